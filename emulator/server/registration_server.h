// The registration server on libcoap: RegistrationServerCore behind a UDP
// endpoint, with its expiry timer. Lives on one loop thread.
#pragma once

#include <string>

#include "emulator/base/timers.h"
#include "emulator/coap/sharded_endpoint.h"
#include "emulator/server/peer_table.h"
#include "emulator/server/registration_server_core.h"

namespace hil::server {

class RegistrationServer final : public coap::Context::Handler {
 public:
  RegistrationServer(coap::Timing timing, Timers& timers, uint64_t seed, int shards);
  ~RegistrationServer() override;

  Status listen(const coap_address_t& addr);
  std::string uri() const;
  const coap::ShardedEndpoint& endpoint() const { return endpoint_; }
  RegistrationServerCore& core() { return core_; }

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t*, uint64_t, const lwm2m::Response&) override {}
  void on_failure(coap_session_t*, uint64_t, const std::string&) override {}
  void on_session_closed(coap_session_t* s) override { peers_.forget(s); }

 private:
  void arm_expiry();

  Timers& timers_;
  RegistrationServerCore core_;
  PeerTable peers_;
  coap::ShardedEndpoint endpoint_;
  Timers::Id expiry_timer_ = 0;
};

}  // namespace hil::server
