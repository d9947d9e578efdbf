#include "emulator/server/bootstrap_server.h"

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"

namespace hil::server {

BootstrapServer::BootstrapServer(BootstrapConfig config, std::optional<lwm2m::Profile> profile,
                                 coap::Timing timing, Timers& timers, uint64_t seed, int contexts,
                                 BootstrapLimits limits)
    : timers_(timers),
      core_(std::move(config), profile,
            [&] {
              limits.max_orphan_ms = timing.max_transmit_wait_ms();
              return limits;
            }()),
      timing_(timing),
      peers_(timing),
      security_(core_.config().psk_table(),
                [this](const std::string& ep, const Refusal& r) {
                  core_.refuse(timers_.clock().now_ms(), 0, ep, r.reason, r.outcome);
                  arm_expiry();
                }),
      listener_(*this, seed, contexts) {
  // A session's state is garbage once it ends, however it ended: a fleet
  // that bootstrapped at once leaves the peak of its sessions free in this
  // loop's malloc arena, where the registrations the fleet goes on to make
  // on other loops cannot reuse it (100,000 devices: 15.5 KiB per device
  // instead of 16.0, tests/bench/README.md).
  core_.on_outcome = [this](const EndpointResult&) { trim_.released(1); };
  // Each endpoint's entry says how it must come: with its own credential
  // over DTLS (a key, or a certificate in its name), or over NoSec.
  core_.authorize = [this](PeerId peer, const std::string& ep) -> std::optional<Refusal> {
    const EndpointConfig* cfg = core_.config().find(ep);
    if (cfg == nullptr) return std::nullopt;  // the core answers NO_BOOTSTRAP_CONFIG
    PskTable rules;
    if (cfg->psk) rules.add(*cfg->psk);
    using Certs = ClientSecurity::Certificates;
    return security_.refusal(peers_.session_of(peer), ep, rules,
                             cfg->x509 ? Certs::Required : Certs::Refused);
  };
}

Status BootstrapServer::listen(const coap_address_t& addr, const coap_address_t& secure,
                               unsigned max_handshakes) {
  HIL_TRY(listener_.listen(addr));
  return security_.listen(listener_, secure, max_handshakes, timing_);
}

void BootstrapServer::reconfigure(BootstrapConfig config) {
  security_.set_table(config.psk_table());
  core_.reconfigure(std::move(config));
}

Status BootstrapServer::start_session(const std::string& endpoint) {
  HIL_TRY_ASSIGN(PeerId peer, core_.last_peer(endpoint));
  if (peers_.session_of(peer) == nullptr) {
    return Error{
        ErrorCode::kFailedPrecondition,
        "'" + endpoint +
            "': its last session with this server has closed, so its address is gone; "
            "the device must come again (Request Bootstrap, or a Bootstrap-Request Trigger "
            "/1/x/9 from its server)"};
  }
  // The configuration may have changed since: the peer must still fit it.
  if (std::optional<Refusal> why = core_.authorize(peer, endpoint)) {
    return Error{ErrorCode::kFailedPrecondition, "'" + endpoint + "': " + why->reason};
  }
  Status st = core_.start_session(timers_.clock().now_ms(), peer, endpoint);
  pump();
  return st;
}

std::string BootstrapServer::uri() const {
  return "coap://" + coap::to_string(listener_.address());
}

std::string BootstrapServer::secure_uri() const {
  return "coaps://" + coap::to_string(listener_.address(/*dtls=*/true));
}

std::optional<lwm2m::Response> BootstrapServer::on_request(coap_session_t* s,
                                                           const lwm2m::Request& r) {
  lwm2m::Response resp = core_.on_request(timers_.clock().now_ms(), peers_.id_of(s), r);
  // The 2.04 leaves when this handler returns, piggybacked on the ACK; the
  // first Write must follow it, never overtake it (Wakaama accepts nothing
  // else), so the commands go out from the loop's next turn.
  timers_.at(timers_.clock().now_ms(), [this] { pump(); });
  return resp;
}

void BootstrapServer::on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) {
  core_.on_response(timers_.clock().now_ms(), tag, r);
  pump();
}

void BootstrapServer::on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) {
  // libcoap gave up: after its retransmissions (TIMEOUT), or at once on a
  // reset or an ICMP error (REQUEST_FAILED).
  Failure kind = reason == COAP_NACK_TOO_MANY_RETRIES ? Failure::Timeout : Failure::SendError;
  core_.on_failure(timers_.clock().now_ms(), tag, kind, coap::nack_reason(reason));
  pump();
}

void BootstrapServer::on_session_event(coap_session_t* s, coap::SessionEvent e) {
  security_.on_event(s, e);
}

void BootstrapServer::pump() {
  TimeMs now = timers_.clock().now_ms();
  while (auto out = core_.poll_request(now)) {
    coap_session_t* s = peers_.session_of(out->peer);
    if (s == nullptr || !coap::Context::owner(s).send(s, out->request, out->request_id)) {
      core_.on_failure(now, out->request_id, Failure::SendError,
                       s ? "cannot send" : "the client's session is gone");
    }
  }
  arm_expiry();  // sessions may have ended
}

void BootstrapServer::arm_expiry() {
  std::optional<TimeMs> due = core_.next_deadline();
  // Rounded up to a whole second: a flood's sessions end milliseconds
  // apart, and one sweep (and one trim) should take them all.
  if (due) due = (*due + 999) / 1000 * 1000;
  expiry_.set(due);
}

void BootstrapServer::expire() {
  trim_.released(core_.on_timeout(timers_.clock().now_ms()));
  arm_expiry();
}

}  // namespace hil::server
