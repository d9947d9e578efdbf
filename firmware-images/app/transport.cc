#include "transport.h"

#include <coap3/coap.h>

#include "emulator/coap/pdu.h"
#include "log.h"

namespace fw {
namespace {

Transport* g_transport = nullptr;  // libcoap's handlers find it here

// coap://a.b.c.d[:port][/...]: this image has no DNS and no DTLS.
bool parse_uri(const std::string& uri, coap_address_t* out, std::string* error) {
  coap_uri_t u;
  if (coap_split_uri(reinterpret_cast<const uint8_t*>(uri.data()), uri.size(), &u) != 0) {
    *error = "not a CoAP URI: " + uri;
    return false;
  }
  if (u.scheme != COAP_URI_SCHEME_COAP) {
    *error = "coaps:// needs DTLS, which this image does not have yet";
    return false;
  }
  std::string host(reinterpret_cast<const char*>(u.host.s), u.host.length);
  coap_address_init(out);
  if (!ip4addr_aton(host.c_str(), ip_2_ip4(&out->addr))) {
    *error = "the image needs an IPv4 address in the URI (no DNS): " + uri;
    return false;
  }
  IP_SET_TYPE_VAL(out->addr, IPADDR_TYPE_V4);
  coap_address_set_port(out, u.port ? u.port : COAP_DEFAULT_PORT);
  return true;
}

void log_handler(coap_log_t level, const char* message) {
  std::string m(message);
  while (!m.empty() && (m.back() == '\n' || m.back() == '\r')) m.pop_back();
  log_event("coap_log", std::to_string(static_cast<int>(level)) + " " + m);
}

}  // namespace

// libcoap's handlers, with libcoap's exact signatures.
struct Callbacks {
  static void on_request(coap_resource_t*, coap_session_t* s, const coap_pdu_t* request,
                         const coap_string_t*, coap_pdu_t* response) {
    Transport& self = *g_transport;
    auto* session = static_cast<Transport::Session*>(coap_session_get_app_data(s));
    if (session == nullptr) return;
    int mid = coap_pdu_get_mid(request);
    for (const auto& a : session->answered) {
      if (a.mid == mid) {  // a retransmission: the first answer again
        hil::coap::fill(response, a.response);
        return;
      }
    }
    std::optional<hil::lwm2m::Response> r =
        self.driver_->on_request(session->origin, hil::coap::to_request(request));
    if (!r) return;  // no power: never here, where a power cut ends the run
    session->answered[session->next] = {mid, *r};
    session->next = (session->next + 1) % session->answered.size();
    hil::coap::fill(response, *r);
  }

  static coap_response_t on_response(coap_session_t* s, const coap_pdu_t*,
                                     const coap_pdu_t* received, const coap_mid_t) {
    Transport& self = *g_transport;
    auto it = self.pending_.find(hil::coap::token_key(coap_pdu_get_token(received)));
    if (it == self.pending_.end() || it->second.session != s) return COAP_RESPONSE_FAIL;
    uint64_t id = it->second.id;
    self.pending_.erase(it);
    self.driver_->on_response(id, hil::coap::to_response(received));
    return COAP_RESPONSE_OK;
  }

  static void on_nack(coap_session_t*, const coap_pdu_t* sent, const coap_nack_reason_t reason,
                      const coap_mid_t) {
    if (sent == nullptr) return;
    Transport& self = *g_transport;
    auto it = self.pending_.find(hil::coap::token_key(coap_pdu_get_token(sent)));
    if (it == self.pending_.end()) return;
    uint64_t id = it->second.id;
    self.pending_.erase(it);
    self.driver_->on_failure(id, hil::coap::nack_reason(reason));
  }
};

bool Transport::init(hil::lwm2m::Driver& driver, const hil::coap::Timing& timing, uint64_t seed,
                     int log_level) {
  driver_ = &driver;
  timing_ = timing;
  token_state_ = seed ^ 0x5eed5eed5eed5eedULL;
  g_transport = this;
  coap_startup();
  coap_set_log_handler(log_handler);
  coap_set_log_level(static_cast<coap_log_t>(log_level));
  ctx_ = coap_new_context(nullptr);
  if (ctx_ == nullptr) return false;
  coap_resource_t* r = coap_resource_unknown_init2(Callbacks::on_request, 0);
  if (r == nullptr) return false;
  for (coap_request_t m : {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE})
    coap_register_request_handler(r, m, Callbacks::on_request);
  coap_add_resource(ctx_, r);
  coap_register_response_handler(ctx_, Callbacks::on_response);
  coap_register_nack_handler(ctx_, Callbacks::on_nack);
  return true;
}

Transport::Session* Transport::session_for(const hil::lwm2m::Account& to, std::string* error) {
  std::string key = hil::lwm2m::session_key(to);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) return it->second.get();
  coap_address_t remote;
  if (!parse_uri(to.uri, &remote, error)) return nullptr;
  coap_session_t* cs = coap_new_client_session(ctx_, nullptr, &remote, COAP_PROTO_UDP);
  if (cs == nullptr) {
    *error = "libcoap cannot open a session to " + to.uri + " (pool exhausted?)";
    return nullptr;
  }
  hil::coap::apply_timing(cs, timing_);
  auto s = std::make_unique<Session>();
  s->origin = {to.bootstrap, to.ssid};
  s->coap = cs;
  coap_session_set_app_data(cs, s.get());
  return sessions_.emplace(key, std::move(s)).first->second.get();
}

void Transport::send(const hil::lwm2m::SendRequest& req) {
  std::string error;
  Session* s = session_for(req.to, &error);
  if (s == nullptr || !transmit(*s, req, &error)) driver_->not_sent(req, error);
}

bool Transport::transmit(Session& s, const hil::lwm2m::SendRequest& req, std::string* error) {
  const hil::lwm2m::Request& r = req.request;
  coap_pdu_t* pdu = coap_new_pdu(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(r.method), s.coap);
  if (pdu == nullptr) {
    *error = "no memory for a PDU";
    return false;
  }
  uint64_t token = hil::coap::next_token(token_state_);
  if (!coap_add_token(pdu, sizeof(token), reinterpret_cast<const uint8_t*>(&token)) ||
      !hil::coap::fill(pdu, r)) {
    coap_delete_pdu(pdu);
    *error = "the request does not fit a PDU";
    return false;
  }
  pending_[token] = Pending{s.coap, req.id};
  driver_->sent(req, false);
  if (coap_send(s.coap, pdu) == COAP_INVALID_MID) {
    // coap_send freed the PDU; a nack may already have reported it.
    if (pending_.erase(token) == 0) return true;
    *error = "libcoap could not send";
    return false;
  }
  return true;
}

hil::Status Transport::notify(const hil::lwm2m::Notify&) {
  return hil::Error{hil::ErrorCode::kUnsupported, "not sent: this image sends no notifications"};
}

bool Transport::close(const std::string& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return false;
  coap_session_t* cs = it->second->coap;
  for (auto p = pending_.begin(); p != pending_.end();)
    p = p->second.session == cs ? pending_.erase(p) : std::next(p);
  coap_session_set_app_data(cs, nullptr);
  coap_session_release(cs);
  sessions_.erase(it);
  return true;
}

}  // namespace fw
