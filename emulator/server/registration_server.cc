#include "emulator/server/registration_server.h"

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"

namespace hil::server {

namespace {

// Who a client is, for Update and De-register: its PSK identity or its
// certificate's name over DTLS;
// over NoSec its host without the port, because a NAT that rebinds keeps
// the host and changes the port (RFC 4787, REQ-2: "paired" pooling).
std::string principal_of(coap_session_t* s) {
  if (s == nullptr) return "gone";
  if (coap_session_get_proto(s) == COAP_PROTO_DTLS) return ClientSecurity::principal(s);
  const std::string addr = coap::to_string(*coap_session_get_addr_remote(s));
  return "host:" + addr.substr(0, addr.rfind(':'));
}

// A certificate refusal names its cause, as the bootstrap server's outcome does.
std::string with_cause(const Refusal& r) {
  if (r.outcome == Outcome::Unauthorized) return r.reason;
  return std::string(to_string(r.outcome)) + ": " + r.reason;
}

}  // namespace

RegistrationServer::RegistrationServer(coap::Timing timing, PskTable psk, Timers& timers,
                                       uint64_t seed, int contexts, RegistrationLimits limits,
                                       RegistrationServerCore::Random random)
    : timers_(timers),
      core_(0, limits, std::move(random)),
      timing_(timing),
      peers_(timing),
      security_(std::move(psk),
                [this](const std::string&, const Refusal& r) {
                  core_.refuse(timers_.clock().now_ms(), with_cause(r));
                }),
      listener_(*this, seed, contexts) {
  // A client with a certificate may register as the endpoint it names.
  core_.authorize = [this](PeerId peer, const std::string& ep) -> std::optional<std::string> {
    using Certs = ClientSecurity::Certificates;
    std::optional<Refusal> r =
        security_.refusal(peers_.session_of(peer), ep, security_.table(),
                          security_.has_certificate() ? Certs::Allowed : Certs::Refused);
    if (!r) return std::nullopt;
    return with_cause(*r);
  };
  core_.principal = [this](PeerId peer) { return principal_of(peers_.session_of(peer)); };
  core_.on_change = [this](const Event& e, const Registration& r) {
    if (e.kind == "updated") return;
    end_observations(e.time_ms, r, e.kind == "registered" ? "registered anew" : e.kind.str());
  };
}

void RegistrationServer::end_observations(TimeMs now, const Registration& r,
                                          const std::string& why) {
  std::vector<Event> events;
  coap_session_t* s = peers_.session_of(r.peer);
  for (uint64_t tag : observations_.end_endpoint(now, r.endpoint, why, events)) {
    // A notification that still comes gets a reset: the device ends it too.
    if (s != nullptr) coap::Context::owner(s).forget_observation(tag);
  }
  for (Event& e : events) core_.note(std::move(e));
}

Status RegistrationServer::listen(const coap_address_t& addr, const coap_address_t& secure,
                                  unsigned max_handshakes) {
  HIL_TRY(listener_.listen(addr));
  return security_.listen(listener_, secure, max_handshakes, timing_);
}

std::string RegistrationServer::uri() const {
  return "coap://" + coap::to_string(listener_.address());
}

std::string RegistrationServer::secure_uri() const {
  return "coaps://" + coap::to_string(listener_.address(/*dtls=*/true));
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

Result<uint64_t> RegistrationServer::observe(const std::string& endpoint, lwm2m::Request r) {
  const Registration* reg = core_.find(endpoint);
  coap_session_t* s = reg ? peers_.session_of(reg->peer) : nullptr;
  if (s == nullptr)
    return Error{ErrorCode::kInvalidArgument,
                 endpoint + " is not registered here (or its session is gone)"};
  r.method = lwm2m::Method::Get;
  r.observe = 0;
  const uint64_t tag = next_tag_++;
  observations_.start(timers_.clock().now_ms(),
                      Observation{tag, endpoint, r.uri_path(), reg->peer, r.accept});
  if (!coap::Context::owner(s).send(s, r, tag)) {
    note(observations_.on_failure(timers_.clock().now_ms(), tag, "cannot send"));
    return Error{ErrorCode::kUnavailable, "cannot send to " + endpoint};
  }
  return tag;
}

Result<uint64_t> RegistrationServer::cancel_observe(const std::string& endpoint,
                                                    const std::string& path) {
  const Observation* o = observations_.live(endpoint, path);
  if (o == nullptr)
    return Error{ErrorCode::kInvalidArgument,
                 "no observation of " + path + " on " + endpoint + " to cancel"};
  coap_session_t* s = peers_.session_of(o->peer);
  lwm2m::Request r;
  // The path as the observe request had it ("/3/0/13"), in segments again.
  for (size_t at = 1; at < path.size();) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    r.path.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  r.observe = 1;
  r.accept = o->accept;
  const uint64_t observation = o->tag, tag = next_tag_++;
  if (s == nullptr || !coap::Context::owner(s).cancel_observation(observation, r, tag))
    return Error{ErrorCode::kUnavailable,
                 "cannot send the cancel to " + endpoint + " (its session is gone?)"};
  observations_.cancelling(observation);
  cancels_[tag] = observation;
  return observation;
}

void RegistrationServer::note(std::optional<Event> e) {
  if (e) core_.note(std::move(*e));
}

void RegistrationServer::on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) {
  if (auto c = cancels_.find(tag); c != cancels_.end()) {
    note(observations_.cancelled(timers_.clock().now_ms(), c->second,
                                 "answered " + lwm2m::to_string(r.code)));
    cancels_.erase(c);
  }
  note(observations_.on_response(timers_.clock().now_ms(), tag, r));
  auto it = requests_.find(tag);
  if (it == requests_.end()) return;
  Done done = std::move(it->second);
  requests_.erase(it);
  done(r);
}

void RegistrationServer::on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) {
  const TimeMs now = timers_.clock().now_ms();
  if (auto c = cancels_.find(tag); c != cancels_.end()) {
    // The cancel went unanswered: the observation is over all the same,
    // since its token is gone here and a notification gets a reset.
    note(observations_.cancelled(now, c->second,
                                 std::string("no answer: ") + coap::nack_reason(reason)));
    cancels_.erase(c);
  }
  note(observations_.on_failure(now, tag, coap::nack_reason(reason)));
  auto it = requests_.find(tag);
  if (it == requests_.end()) return;
  Done done = std::move(it->second);
  requests_.erase(it);
  done(Error{coap::nack_code(reason), coap::nack_reason(reason)});
}

void RegistrationServer::arm_expiry() { expiry_.set(core_.next_deadline()); }

void RegistrationServer::expire() {
  const size_t before = core_.size();
  core_.on_timeout(timers_.clock().now_ms());
  trim_.released(before - core_.size());
  arm_expiry();
}

}  // namespace hil::server
