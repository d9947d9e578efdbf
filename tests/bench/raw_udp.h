// The ceiling a fleet's CoAP traffic is compared with: plain UDP
// request/response on loopback, measured on the same machine in the same
// run, so a noisy neighbour slows both figures alike.
#pragma once

#include <cstdint>
#include <string>

namespace hil::bench {

struct RawUdpResult {
  int peers = 0;
  double seconds = 0;
  uint64_t round_trips = 0;
  uint64_t restarts = 0;  // times the clients re-sent after a lost datagram
  std::string error;      // empty when the measurement ran

  double per_second() const { return seconds > 0 ? round_trips / seconds : 0; }
};

// `peers` connected client sockets on one thread, one server socket on
// another, each client with one ~40-byte request in flight, for `seconds`.
RawUdpResult measure_raw_udp(int peers, double seconds);

}  // namespace hil::bench
