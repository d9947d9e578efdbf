// The registration server on libcoap: RegistrationServerCore behind a UDP
// endpoint and a DTLS one, with its expiry timer. Lives on one loop thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "emulator/base/timers.h"
#include "emulator/coap/sharded_endpoint.h"
#include "emulator/server/client_security.h"
#include "emulator/server/peer_table.h"
#include "emulator/server/registration_server_core.h"

namespace hil::server {

class RegistrationServer final : public coap::Context::Handler {
 public:
  // Endpoints that `psk` covers must register over DTLS with an identity
  // allowed for them; the others over NoSec.
  // `random` makes registration ids (RegistrationServerCore::Random).
  RegistrationServer(coap::Timing timing, PskTable psk, Timers& timers, uint64_t seed, int shards,
                     RegistrationLimits limits = {}, RegistrationServerCore::Random random = {});
  ~RegistrationServer() override;

  // coap:// on `addr`; coaps:// on `secure` (port 0: a free one).
  Status listen(const coap_address_t& addr, const coap_address_t& secure, unsigned max_handshakes);
  std::string uri() const;
  std::string secure_uri() const;
  const coap::ShardedEndpoint& endpoint() const { return endpoint_; }
  RegistrationServerCore& core() { return core_; }

  // A request to the registered `endpoint` on its session (Read, Write,
  // Execute...); `done` gets the answer, or why there is none:
  // kInvalidArgument (not registered here), kTimeout (no answer after the
  // retransmissions), kUnavailable (cannot send, reset, unreachable).
  using Done = std::function<void(Result<lwm2m::Response>)>;
  void request(const std::string& endpoint, const lwm2m::Request& r, Done done);

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) override;
  void on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) override;
  void on_session_closed(coap_session_t* s) override { peers_.forget(s); }
  void on_session_event(coap_session_t* s, coap::SessionEvent e) override {
    security_.on_event(s, e);
  }

 private:
  void arm_expiry();

  Timers& timers_;
  RegistrationServerCore core_;
  coap::Timing timing_;
  PeerTable peers_;
  ClientSecurity security_;
  coap::ShardedEndpoint endpoint_;
  Timers::Id expiry_timer_ = 0;
  std::map<uint64_t, Done> requests_;  // in flight, by tag
  uint64_t next_tag_ = 1;
};

}  // namespace hil::server
