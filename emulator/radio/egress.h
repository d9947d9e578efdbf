// The radio's way out to servers on other hosts. Devices send from
// 127.1.x.y, which the kernel never lets leave the machine; a server off
// loopback instead sees the device at an address of its own from an egress
// prefix (default 198.18.0.0/16, the benchmarking range of RFC 2544): the
// prefix is made local ("AnyIP": a `local` route on lo, so the radio's
// wildcard sockets send from and receive for all of it, as for 127/8), and
// an nftables table masquerades it to the host's address on the way out.
// Each device keeps one address, and after the masquerade one host port per
// path; no descriptor is added. See emulator/radio/README.md, "Egress".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "emulator/base/result.h"
#include "emulator/radio/pcapng.h"

namespace hil::radio {

constexpr const char* kDefaultEgressPrefix = "198.18.0.0/16";

struct EgressPrefix {
  uint32_t base = 0;  // host order
  int length = 0;     // 8..16: room for every 127.1.x.y
  std::string text;   // "198.18.0.0/16"
};
// "A.B.C.D/N" with 8 <= N <= 16, host bits zero, outside 127/8, 0/8 and
// multicast; errors name `egress_prefix` and say what to change.
Result<EgressPrefix> parse_egress_prefix(const std::string& text);

// The egress address of the device at `device_ip` (127.1.x.y, host order).
inline uint32_t egress_address(uint32_t base, uint32_t device_ip) {
  return base | (device_ip & 0xffffu);
}

// Whether the kernel has a route to `server` (IPv4): an error saying what to
// do if not. Needs no privilege.
Status check_route(Ipv4SocketAddress server);

// The host's side of the egress, for one process: its nftables table
// (`hil_egress_<pid>`) and the prefix's local route, shared by the
// processes that use the same prefix (the last one out removes it).
class Egress {
 public:
  // Needs CAP_NET_ADMIN and the nft and ip commands; the error says which
  // is missing and what to do. Removes what dead processes left behind.
  static Result<std::unique_ptr<Egress>> open(const std::string& prefix);
  // Removes the table, and the route unless another live process uses it.
  ~Egress();
  Egress(const Egress&) = delete;
  Egress& operator=(const Egress&) = delete;

  const EgressPrefix& prefix() const { return prefix_; }
  const std::string& table() const { return table_; }

 private:
  explicit Egress(EgressPrefix prefix);
  Status install();
  void remove();

  EgressPrefix prefix_;
  std::string table_;
  bool table_added_ = false;
};

}  // namespace hil::radio
