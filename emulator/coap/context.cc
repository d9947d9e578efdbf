#include "emulator/coap/context.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <mutex>

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"
#include "emulator/coap/virtual_time.h"

namespace hil::coap {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    install_virtual_time_hooks();
  });
}

Context::Context(Handler& handler, uint64_t seed)
    : handler_(handler), ctx_(nullptr), token_state_(seed) {
  init_library();
  ctx_ = coap_new_context(nullptr);
  coap_set_app_data(ctx_, this);
  coap_context_set_max_idle_sessions(ctx_, 0);
  coap_resource_t* r = coap_resource_unknown_init2(on_request_cb, 0);
  for (coap_request_t m : {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE})
    coap_register_request_handler(r, m, on_request_cb);
  coap_add_resource(ctx_, r);
  coap_register_response_handler(ctx_, on_response_cb);
  coap_register_nack_handler(ctx_, on_nack_cb);
  coap_register_event_handler(ctx_, on_event_cb);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_fd_;
  epoll_ctl(fd(), EPOLL_CTL_ADD, wake_fd_, &ev);
}

Context::~Context() {
  coap_free_context(ctx_);
  close(wake_fd_);
}

Context& Context::owner(coap_session_t* s) {
  return *static_cast<Context*>(coap_get_app_data(coap_session_get_context(s)));
}

Status Context::listen(const coap_address_t& addr, bool dtls) {
  coap_endpoint_t* ep = coap_new_endpoint(ctx_, &addr, dtls ? COAP_PROTO_DTLS : COAP_PROTO_UDP);
  if (ep == nullptr)
    return Error{ErrorCode::kIo,
                 "cannot listen on " + to_string(addr) + ": address in use or not local"};
  // 4.3.1 has no getter for the bound address; its printable form has it.
  std::string s = coap_endpoint_str(ep);
  s = s.substr(0, s.find(' '));
  HIL_TRY_ASSIGN(auto bound, parse_host_port(s));
  (dtls ? dtls_addr_ : listen_addr_) = bound;
  (dtls ? dtls_endpoint_ : endpoint_) = ep;
  return ok_status();
}

void Context::answer_through(const Switchboard& board) {
  switchboard_ = &board;
  coap_context_set_datagram_send(ctx_, on_datagram_send_cb);
}

void Context::receive(bool dtls, const Ipv4SocketAddress& from, const uint8_t* data, size_t len) {
  coap_endpoint_t* ep = dtls ? dtls_endpoint_ : endpoint_;
  if (ep == nullptr) return;
  coap_address_t remote = coap_address_of(from);
  coap_endpoint_receive_datagram(ep, &remote, data, len);
  dirty_ = true;
  if (dtls && !virtual_time_active()) wake();  // the virtual loop walks dirty_ ones
}

void Context::accept_psk(PskLookup lookup, unsigned max_handshakes, const Timing& timing) {
  psk_lookup_ = std::move(lookup);
  coap_dtls_spsk_t setup{};
  setup.version = COAP_DTLS_SPSK_SETUP_VERSION;
  setup.validate_id_call_back = on_psk_identity_cb;
  coap_context_set_psk2(ctx_, &setup);
  coap_context_set_max_handshake_sessions(ctx_, max_handshakes);
  coap_context_set_dtls_retransmit_ms(ctx_, static_cast<unsigned>(timing.ack_timeout_ms));
}

const std::string& Context::psk_identity(coap_session_t* s) const {
  static const std::string kNone;
  auto it = identities_.find(s);
  return it == identities_.end() ? kNone : it->second;
}

const coap_bin_const_t* Context::on_psk_identity_cb(coap_bin_const_t* identity, coap_session_t* s,
                                                    void*) {
  Context& self = owner(s);
  std::string id(reinterpret_cast<const char*>(identity->s), identity->length);
  self.identities_[s] = id;
  std::optional<std::vector<uint8_t>> key =
      self.psk_lookup_ ? self.psk_lookup_(s, id) : std::nullopt;
  if (!key) return nullptr;
  // libcoap copies the key before this is called again.
  self.psk_key_ = std::move(*key);
  self.psk_key_view_ = coap_bin_const_t{self.psk_key_.size(), self.psk_key_.data()};
  return &self.psk_key_view_;
}

namespace {

// Certificate mode as LwM2M wants it: the peer's certificate must chain to
// the trusted one, be in its validity period, and not be self-signed.
// `c`'s buffers must outlive the libcoap call that takes the setup.
coap_dtls_pki_t pki_setup(const Certificate& c, coap_dtls_cn_callback_t on_certificate) {
  coap_dtls_pki_t setup{};
  setup.version = COAP_DTLS_PKI_SETUP_VERSION;
  setup.verify_peer_cert = 1;
  setup.cert_chain_validation = 1;
  setup.cert_chain_verify_depth = 3;
  setup.validate_cn_call_back = on_certificate;
  setup.pki_key.key_type = COAP_PKI_KEY_ASN1;
  coap_pki_key_asn1_t& k = setup.pki_key.key.asn1;
  k.ca_cert = c.trust.data();
  k.ca_cert_len = c.trust.size();
  k.public_cert = c.cert.data();
  k.public_cert_len = c.cert.size();
  k.private_key = c.key.data();
  k.private_key_len = c.key.size();
  k.private_key_type = COAP_ASN1_PKEY_EC;
  return setup;
}

}  // namespace

void Context::accept_certificates(Certificate own) {
  own_certificate_ = std::move(own);
  coap_dtls_pki_t setup = pki_setup(own_certificate_, on_certificate_cb);
  coap_context_set_pki(ctx_, &setup);
}

const PeerCertificate* Context::peer_certificate(coap_session_t* s) const {
  auto it = peer_certificates_.find(s);
  return it == peer_certificates_.end() ? nullptr : &it->second;
}

int Context::on_certificate_cb(const char* cn, const uint8_t* der, size_t len, coap_session_t* s,
                               unsigned depth, int validated, void*) {
  Context& self = owner(s);
  if (coap_session_get_type(s) != COAP_SESSION_TYPE_SERVER) return 1;
  PeerCertificate& peer = self.peer_certificates_[s];
  // mbedTLS shows the chain from its root down; the client's own comes last.
  if (depth == 0) peer.name = cn != nullptr ? cn : "";
  if (!validated && !peer.problem) peer.problem = classify(der, len);
  return 1;  // the name is checked against the endpoint per request
}

coap_session_t* Context::connect(const coap_address_t& local, const coap_address_t& remote,
                                 const Timing& t, const Psk* psk, const Certificate* cert,
                                 std::unique_ptr<DatagramPort> port) {
  if (carries_through_ports() != (port != nullptr)) return nullptr;
  coap_dtls_cpsk_t setup{};
  if (psk != nullptr) {
    setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
    setup.psk_info.identity = {psk->identity.size(),
                               reinterpret_cast<const uint8_t*>(psk->identity.data())};
    setup.psk_info.key = {psk->key.size(), psk->key.data()};
  }
  coap_dtls_pki_t pki{};
  if (cert != nullptr) pki = pki_setup(*cert, on_certificate_cb);
  const bool dtls = psk != nullptr || cert != nullptr;
  // The ClientHello leaves inside the call: the timing must be set before (patch 0007).
  if (dtls) coap_context_set_dtls_retransmit_ms(ctx_, static_cast<unsigned>(t.ack_timeout_ms));
  // libcoap binds with SO_REUSEADDR, so the kernel may give a second
  // session from the same address the port of the first, and libcoap then
  // refuses the duplicate 4-tuple: another try gets another port. The
  // refused one leaves no trace in the random numbers of a virtual run.
  coap_session_t* s = nullptr;
  connecting_ = port.get();
  for (int attempt = 0; attempt < 3 && s == nullptr; ++attempt) {
    RandomCheckpoint checkpoint;
    if (psk != nullptr) {
      s = coap_new_client_session_psk2(ctx_, &local, &remote, COAP_PROTO_DTLS, &setup);
    } else if (cert != nullptr) {
      // libcoap parses the credentials into the new session (patch 0014).
      s = coap_new_client_session_pki(ctx_, &local, &remote, COAP_PROTO_DTLS, &pki);
    } else {
      s = coap_new_client_session(ctx_, &local, &remote, COAP_PROTO_UDP);
    }
    if (s == nullptr) checkpoint.rewind();
  }
  connecting_ = nullptr;
  if (s != nullptr && dtls && !virtual_time_active()) wake();  // the virtual loop walks dirty_ ones
  if (s == nullptr) return nullptr;
  if (port) {
    port->set_receiver([this, s](const uint8_t* data, size_t len) {
      coap_session_receive_datagram(s, data, len);
      dirty_ = true;
    });
    ports_[s] = std::move(port);
  }
  apply_timing(s, t);
  ++sessions_;
  dirty_ = true;
  return s;
}

void Context::release(coap_session_t* s) {
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second.session == s ? pending_.erase(it) : std::next(it);
  dedup_.forget(s);
  coap_session_set_app_data(s, nullptr);
  // Released before its port goes: a DTLS session says close_notify as it
  // goes, through its port like every other datagram.
  coap_session_release(s);
  ports_.erase(s);
  --sessions_;
  dirty_ = true;
}

bool Context::send(coap_session_t* s, const lwm2m::Request& r, uint64_t tag) {
  coap_pdu_t* pdu = coap_new_pdu(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(r.method), s);
  if (pdu == nullptr) return false;
  uint64_t token = next_token(token_state_);
  if (!coap_add_token(pdu, sizeof(token), reinterpret_cast<const uint8_t*>(&token)) ||
      !fill(pdu, r)) {
    coap_delete_pdu(pdu);
    return false;
  }
  pending_[token] = Pending{s, tag, r.observe == 0u ? Kind::Observe : Kind::Request};
  dirty_ = true;
  if (coap_send(s, pdu) == COAP_INVALID_MID) {
    // coap_send has freed the PDU. If a nack already reported the failure
    // the caller has heard of it; otherwise it has not, and must.
    return pending_.erase(token) == 0;
  }
  return true;
}

std::unordered_map<uint64_t, Context::Pending>::iterator Context::find_tag(uint64_t tag) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it)
    if (it->second.tag == tag) return it;
  return pending_.end();
}

bool Context::cancel_observation(uint64_t observation, const lwm2m::Request& r, uint64_t tag) {
  auto it = find_tag(observation);
  if (it == pending_.end() || it->second.kind != Kind::Observe) return false;
  coap_session_t* s = it->second.session;
  const uint64_t token = it->first;
  coap_pdu_t* pdu = coap_new_pdu(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(r.method), s);
  if (pdu == nullptr) return false;
  // RFC 7641, 3.6: the deregistering GET carries the observation's token.
  if (!coap_add_token(pdu, sizeof(token), reinterpret_cast<const uint8_t*>(&token)) ||
      !fill(pdu, r)) {
    coap_delete_pdu(pdu);
    return false;
  }
  it->second = Pending{s, tag, Kind::Cancel};
  dirty_ = true;
  if (coap_send(s, pdu) == COAP_INVALID_MID) return pending_.erase(token) == 0;
  return true;
}

void Context::forget_observation(uint64_t tag) {
  auto it = find_tag(tag);
  if (it != pending_.end() && it->second.kind == Kind::Observe) pending_.erase(it);
}

bool Context::notify(coap_session_t* s, const lwm2m::Bytes& token, const lwm2m::Response& r) {
  coap_pdu_t* pdu = coap_new_pdu(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(r.code), s);
  if (pdu == nullptr) return false;
  if (!coap_add_token(pdu, token.size(), token.data()) || !fill(pdu, r)) {
    coap_delete_pdu(pdu);
    return false;
  }
  dirty_ = true;
  return coap_send(s, pdu) != COAP_INVALID_MID;
}

void Context::carry_through_ports() {
  carry_through_ports_ = true;
  coap_context_set_datagram_send(ctx_, on_datagram_send_cb);
}

ssize_t Context::on_datagram_send_cb(coap_session_t* s, const uint8_t* data, size_t len) {
  Context& self = owner(s);
  auto it = self.ports_.find(s);
  // A DTLS session sends its ClientHello while connect() creates it.
  DatagramPort* port = it != self.ports_.end() ? it->second.get() : self.connecting_;
  if (port != nullptr) return port->send(data, len) ? static_cast<ssize_t>(len) : -2;
  if (self.switchboard_ == nullptr) return -2;
  auto from = ipv4_of(*coap_session_get_addr_local(s));
  auto to = ipv4_of(*coap_session_get_addr_remote(s));
  return from && to && self.switchboard_->send(*from, *to, data, len) ? static_cast<ssize_t>(len)
                                                                      : -2;
}

void Context::wake() {
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;  // a counter that is already set wakes us as well
}

int Context::fd() const { return coap_context_get_coap_fd(ctx_); }

// coap_io_process() walks every session of the context on each call, and a
// busy endpoint socket yields one datagram per call: a server with ten
// thousand clients would walk ten thousand sessions per datagram. So ready
// events are handled directly (patch 0003 keeps coap_io_do_epoll() from
// walking), and the walk (retransmissions, idle sessions, re-arming
// libcoap's timer) runs when that timer fires, and at least once a second.
int Context::take_ready(epoll_event* events, int max, bool* woken) {
  int n = epoll_wait(fd(), events, max, 0);
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == &wake_fd_) {
      uint64_t count;
      ssize_t r = read(wake_fd_, &count, sizeof(count));
      (void)r;
      *woken = true;
      continue;  // not libcoap's: it would take data.ptr for a socket
    }
    events[kept++] = events[i];
  }
  return n <= 0 ? -1 : kept;
}

void Context::process() {
  constexpr int kMaxEvents = 64;
  constexpr int kMaxRounds = 256;  // bounded, so other contexts get their turn
  epoll_event events[kMaxEvents];
  coap_tick_t now;
  coap_ticks(&now);
  bool walk = now >= next_walk_;
  for (int round = 0; round < kMaxRounds; ++round) {
    int n = take_ready(events, kMaxEvents, &walk);
    if (n < 0) break;
    for (int i = 0; i < n; ++i) walk |= events[i].data.ptr == nullptr;
    coap_io_do_epoll(ctx_, events, static_cast<size_t>(n));
  }
  if (walk) {
    coap_ticks(&now);
    coap_io_prepare_epoll(ctx_, now);
    next_walk_ = now + COAP_TICKS_PER_SECOND;
  }
}

coap_tick_t Context::ticks() {
  coap_tick_t now;
  coap_ticks(&now);
  return now;
}

bool Context::process_virtual(bool readable, bool refresh, coap_tick_t now) {
  const bool due = due_ != 0 && now >= due_;
  if (!readable && !(refresh && dirty_) && !due) return false;
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  bool did = false;
  while (readable) {
    int n = take_ready(events, kMaxEvents, &dirty_);
    if (n < 0) break;
    coap_io_do_epoll(ctx_, events, static_cast<size_t>(n));
    did = dirty_ = true;
  }
  if ((refresh && dirty_) || due) {
    dirty_ = false;  // handlers the walk calls (give-ups) may set it again
    unsigned int wait = coap_io_prepare_epoll(ctx_, now);
    due_ = wait == 0 ? 0 : now + wait;
    did = true;
  }
  return did;
}

int64_t Context::due_in_ms(coap_tick_t now) const {
  if (due_ == 0) return -1;
  return due_ > now ? static_cast<int64_t>(due_ - now) : 0;  // ticks are ms
}

void Context::on_request_cb(coap_resource_t*, coap_session_t* s, const coap_pdu_t* request,
                            const coap_string_t*, coap_pdu_t* response) {
  Context& self = owner(s);
  coap_mid_t mid = coap_pdu_get_mid(request);
  if (const lwm2m::Response* cached = self.dedup_.find(s, mid)) {
    fill(response, *cached);
    return;
  }
  std::optional<lwm2m::Response> r = self.handler_.on_request(s, to_request(request));
  if (!r) {
    coap_pdu_set_type(response, COAP_MESSAGE_NON);
    return;
  }
  self.dedup_.remember(s, mid, *r);
  fill(response, *r);
}

coap_response_t Context::on_response_cb(coap_session_t* s, const coap_pdu_t*,
                                        const coap_pdu_t* received, coap_mid_t) {
  Context& self = owner(s);
  auto it = self.pending_.find(token_key(coap_pdu_get_token(received)));
  if (it == self.pending_.end() || it->second.session != s) return COAP_RESPONSE_FAIL;
  uint64_t tag = it->second.tag;
  lwm2m::Response r = to_response(received);
  // A notification on an observation being cancelled: acknowledged (the
  // cancel is under way), but it answers nothing.
  if (it->second.kind == Kind::Cancel && r.observe) return COAP_RESPONSE_OK;
  if (it->second.kind != Kind::Observe || !r.observe) self.pending_.erase(it);
  self.handler_.on_response(s, tag, r);
  return COAP_RESPONSE_OK;
}

void Context::on_nack_cb(coap_session_t* s, const coap_pdu_t* sent, coap_nack_reason_t reason,
                         coap_mid_t) {
  if (sent == nullptr) return;
  Context& self = owner(s);
  if (COAP_RESPONSE_CLASS(coap_pdu_get_code(sent)) >= 2) {
    // Only notifications are responses sent as CON.
    coap_bin_const_t t = coap_pdu_get_token(sent);
    self.handler_.on_notify_failed(s, lwm2m::Bytes(t.s, t.s + t.length), nack_reason(reason));
    return;
  }
  auto it = self.pending_.find(token_key(coap_pdu_get_token(sent)));
  if (it == self.pending_.end()) return;
  uint64_t tag = it->second.tag;
  self.pending_.erase(it);
  self.handler_.on_failure(s, tag, reason);
}

int Context::on_event_cb(coap_session_t* s, coap_event_t event) {
  Context& self = owner(s);
  switch (event) {
    case COAP_EVENT_SERVER_SESSION_DEL:
      self.dedup_.forget(s);
      self.handler_.on_session_closed(s);
      self.identities_.erase(s);
      self.peer_certificates_.erase(s);
      break;
    case COAP_EVENT_DTLS_CONNECTED:
      self.handler_.on_session_event(s, SessionEvent::DtlsConnected);
      break;
    case COAP_EVENT_DTLS_ERROR:
      self.handler_.on_session_event(s, SessionEvent::DtlsFailed);
      break;
    case COAP_EVENT_DTLS_CLOSED:
      self.handler_.on_session_event(s, SessionEvent::DtlsClosed);
      break;
    default:
      break;
  }
  return 0;
}

}  // namespace hil::coap
