// The bootstrap server on libcoap: BootstrapServerCore behind a UDP
// endpoint. Lives on one loop thread.
#pragma once

#include <string>

#include "emulator/base/timers.h"
#include "emulator/coap/sharded_endpoint.h"
#include "emulator/server/bootstrap_server_core.h"
#include "emulator/server/peer_table.h"

namespace hil::server {

class BootstrapServer final : public coap::Context::Handler {
 public:
  BootstrapServer(BootstrapConfig config, lwm2m::Profile profile, coap::Timing timing,
                  Timers& timers, uint64_t seed, int shards);

  Status listen(const coap_address_t& addr);
  std::string uri() const;  // coap://127.0.0.1:PORT once listening
  const coap::ShardedEndpoint& endpoint() const { return endpoint_; }
  BootstrapServerCore& core() { return core_; }

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) override;
  void on_failure(coap_session_t* s, uint64_t tag, const std::string& reason) override;
  void on_session_closed(coap_session_t* s) override { peers_.forget(s); }

 private:
  void pump();

  Timers& timers_;
  BootstrapServerCore core_;
  PeerTable peers_;
  coap::ShardedEndpoint endpoint_;
};

}  // namespace hil::server
