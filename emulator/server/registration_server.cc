#include "emulator/server/registration_server.h"

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"

namespace hil::server {

namespace {

// Who a client is, for Update and De-register: its PSK identity over DTLS;
// over NoSec its host without the port, because a NAT that rebinds keeps
// the host and changes the port (RFC 4787, REQ-2: "paired" pooling).
std::string principal_of(coap_session_t* s) {
  if (s == nullptr) return "gone";
  if (coap_session_get_proto(s) == COAP_PROTO_DTLS)
    return "psk:" + coap::Context::owner(s).psk_identity(s);
  const std::string addr = coap::to_string(*coap_session_get_addr_remote(s));
  return "host:" + addr.substr(0, addr.rfind(':'));
}

}  // namespace

RegistrationServer::RegistrationServer(coap::Timing timing, PskTable psk, Timers& timers,
                                       uint64_t seed, int shards, RegistrationLimits limits,
                                       RegistrationServerCore::Random random)
    : timers_(timers),
      core_(0, limits, std::move(random)),
      timing_(timing),
      peers_(timing),
      security_(std::move(psk),
                [this](const std::string&, const std::string& reason) {
                  core_.refuse(timers_.clock().now_ms(), reason);
                }),
      endpoint_(*this, seed, shards) {
  core_.authorize = [this](PeerId peer, const std::string& ep) {
    return security_.refusal(peers_.session_of(peer), ep, security_.table());
  };
  core_.principal = [this](PeerId peer) { return principal_of(peers_.session_of(peer)); };
}

RegistrationServer::~RegistrationServer() { timers_.cancel(expiry_timer_); }

Status RegistrationServer::listen(const coap_address_t& addr, const coap_address_t& secure,
                                  unsigned max_handshakes) {
  HIL_TRY(endpoint_.listen(addr));
  return security_.listen(endpoint_, secure, max_handshakes, timing_);
}

std::string RegistrationServer::uri() const {
  return "coap://" + coap::to_string(endpoint_.address());
}

std::string RegistrationServer::secure_uri() const {
  return "coaps://" + coap::to_string(endpoint_.address(/*dtls=*/true));
}

std::optional<lwm2m::Response> RegistrationServer::on_request(coap_session_t* s,
                                                              const lwm2m::Request& r) {
  lwm2m::Response resp = core_.on_request(timers_.clock().now_ms(), peers_.id_of(s), r);
  arm_expiry();
  return resp;
}

void RegistrationServer::request(const std::string& endpoint, const lwm2m::Request& r, Done done) {
  const Registration* reg = core_.find(endpoint);
  coap_session_t* s = reg ? peers_.session_of(reg->peer) : nullptr;
  if (s == nullptr) {
    done(Error{ErrorCode::kInvalidArgument,
               endpoint + " is not registered here (or its session is gone)"});
    return;
  }
  uint64_t tag = next_tag_++;
  requests_[tag] = std::move(done);
  if (!coap::Context::owner(s).send(s, r, tag)) {
    // A failure already reported through on_failure() took the callback.
    auto it = requests_.find(tag);
    if (it == requests_.end()) return;
    Done d = std::move(it->second);
    requests_.erase(it);
    d(Error{ErrorCode::kUnavailable, "cannot send to " + endpoint});
  }
}

void RegistrationServer::on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) {
  auto it = requests_.find(tag);
  if (it == requests_.end()) return;
  Done done = std::move(it->second);
  requests_.erase(it);
  done(r);
}

void RegistrationServer::on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) {
  auto it = requests_.find(tag);
  if (it == requests_.end()) return;
  Done done = std::move(it->second);
  requests_.erase(it);
  done(Error{coap::nack_code(reason), coap::nack_reason(reason)});
}

void RegistrationServer::arm_expiry() {
  timers_.cancel(expiry_timer_);
  expiry_timer_ = 0;
  if (auto at = core_.next_deadline()) {
    expiry_timer_ = timers_.at(*at, [this] {
      expiry_timer_ = 0;
      core_.on_timeout(timers_.clock().now_ms());
      arm_expiry();
    });
  }
}

}  // namespace hil::server
