// The registration server on libcoap: RegistrationServerCore behind a UDP
// endpoint and a DTLS one, with its expiry timer. Lives on one loop thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "emulator/base/timers.h"
#include "emulator/coap/steered_listener.h"
#include "emulator/server/client_security.h"
#include "emulator/server/heap_trim.h"
#include "emulator/server/observation_table.h"
#include "emulator/server/peer_table.h"
#include "emulator/server/registration_server_core.h"

namespace hil::server {

class RegistrationServer final : public coap::Context::Handler {
 public:
  // Endpoints that `psk` covers must register over DTLS with an identity
  // allowed for them; the others over NoSec.
  // `random` makes registration ids (RegistrationServerCore::Random).
  RegistrationServer(coap::Timing timing, PskTable psk, Timers& timers, uint64_t seed, int contexts,
                     RegistrationLimits limits = {}, RegistrationServerCore::Random random = {});

  // Certificate mode: a client may also register over DTLS with a
  // certificate that chains to `own.trust`, as the endpoint it names.
  // Before listen().
  void set_certificate(coap::Certificate own) { security_.set_certificate(std::move(own)); }
  // coap:// on `addr`; coaps:// on `secure` (port 0: a free one).
  Status listen(const coap_address_t& addr, const coap_address_t& secure, unsigned max_handshakes);
  std::string uri() const;
  std::string secure_uri() const;
  const coap::SteeredListener& listener() const { return listener_; }
  coap::SteeredListener& listener() { return listener_; }
  RegistrationServerCore& core() { return core_; }

  // A request to the registered `endpoint` on its session (Read, Write,
  // Execute...); `done` gets the answer, or why there is none:
  // kInvalidArgument (not registered here), kTimeout (no answer after the
  // retransmissions), kUnavailable (cannot send, reset, unreachable).
  using Done = std::function<void(Result<lwm2m::Response>)>;
  void request(const std::string& endpoint, const lwm2m::Request& r, Done done);

  // Observe: a GET of `r.path` with Observe=0 to the registered `endpoint`.
  // Its answer and notifications land in observations() under the tag it
  // returns, and in the core's events ("observe", "notify", "observe_ended").
  Result<uint64_t> observe(const std::string& endpoint, lwm2m::Request r);
  // Cancel Observation: a GET with Observe=1 on the observation's token;
  // returns the observation's tag. Its state goes "cancelling", then
  // "cancelled" with the client's answer (or "failed").
  Result<uint64_t> cancel_observe(const std::string& endpoint, const std::string& path);
  const ObservationTable& observations() const { return observations_; }

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) override;
  void on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) override;
  void on_session_closed(coap_session_t* s) override { peers_.forget(s); }
  void on_session_event(coap_session_t* s, coap::SessionEvent e) override {
    security_.on_event(s, e);
  }

 private:
  void arm_expiry();
  void expire();
  void note(std::optional<Event> e);
  void end_observations(TimeMs now, const Registration& r, const std::string& why);

  Timers& timers_;
  RegistrationServerCore core_;
  coap::Timing timing_;
  PeerTable peers_;
  ClientSecurity security_;
  coap::SteeredListener listener_;
  std::map<uint64_t, Done> requests_;  // in flight, by tag
  ObservationTable observations_;
  std::map<uint64_t, uint64_t> cancels_;  // cancel request's tag -> observation's
  uint64_t next_tag_ = 1;
  HeapTrim trim_{timers_};  // after expiries
  DeadlineTimer expiry_{timers_, [this] { expire(); }};
};

}  // namespace hil::server
