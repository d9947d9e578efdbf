// One server address served by several libcoap contexts. libcoap walks a
// context's session list for every new client and its send queue for every
// CON, so a server with ten thousand clients in one context slows to a
// crawl; with SO_REUSEPORT (patch 0002) the kernel spreads clients over the
// contexts by address, and each client stays with one of them.
#pragma once

#include <memory>
#include <vector>

#include "emulator/coap/context.h"

namespace hil::coap {

class ShardedEndpoint {
 public:
  ShardedEndpoint(Context::Handler& handler, uint64_t seed, int shards);

  // Refuses a port that anything else holds, then binds every shard to it,
  // for CoAP over UDP or over DTLS (see Context::listen).
  Status listen(const coap_address_t& addr, bool dtls = false);
  const coap_address_t& address(bool dtls = false) const {
    return contexts_[0]->listen_address(dtls);
  }
  const std::vector<std::unique_ptr<Context>>& contexts() const { return contexts_; }

 private:
  std::vector<std::unique_ptr<Context>> contexts_;
};

}  // namespace hil::coap
