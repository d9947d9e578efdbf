// One server address served by several libcoap contexts. libcoap walks a
// context's session list for every new client and its send queue for every
// CON, so a server with ten thousand clients in one context slows to a
// crawl. The contexts share the port with SO_REUSEPORT (patch 0002), and a
// small classic-BPF program on the port picks the context by the client's
// IPv4 source address alone (its remainder by the number of contexts), not
// by the kernel's hash of address and port, whose secret changes at every
// boot: each emulated device (127.1.x.y) meets the same context run after
// run, which a virtual-time run needs to repeat itself, and a fleet's
// sequential addresses share the contexts evenly.
#pragma once

#include <memory>
#include <vector>

#include "emulator/coap/context.h"

namespace hil::coap {

class SteeredListener {
 public:
  SteeredListener(Context::Handler& handler, uint64_t seed, int contexts);
  ~SteeredListener();

  // Refuses a port that anything else holds (and for port 0 takes one that
  // nothing holds), then binds every context to it,
  // for CoAP over UDP or over DTLS (see Context::listen). Errors: kIo.
  Status listen(const coap_address_t& addr, bool dtls = false);
  const coap_address_t& address(bool dtls = false) const {
    return contexts_[0]->listen_address(dtls);
  }
  const std::vector<std::unique_ptr<Context>>& contexts() const { return contexts_; }
  // Takes datagrams for the listening IPv4 addresses from `board` too, each
  // to the context the port's program would pick, and answers through it;
  // until destroyed. A wildcard address stays with its sockets alone.
  void attach(Switchboard& board);

 private:
  std::vector<std::unique_ptr<Context>> contexts_;
  // Per listening port: the socket that claimed it, member 0 of its
  // SO_REUSEPORT group, which holds the steering program and never receives
  // (the program picks only contexts).
  std::vector<int> steering_fds_;
  Switchboard* board_ = nullptr;
  std::vector<Ipv4SocketAddress> attached_;
};

}  // namespace hil::coap
