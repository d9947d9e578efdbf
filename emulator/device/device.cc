#include "emulator/device/device.h"

#include <arpa/inet.h>

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"
#include "emulator/lwm2m/codec/tree.h"

namespace hil::device {

using lwm2m::BootstrapExit;
using lwm2m::State;

namespace {

Ipv4SocketAddress endpoint4(const coap_address_t& a) {
  return Ipv4SocketAddress{ntohl(a.addr.sin.sin_addr.s_addr), ntohs(a.addr.sin.sin_port)};
}

}  // namespace

Device::Device(const DeviceConfig& config, coap::Context& shard, Timers& timers,
               radio::Radio* radio, HandshakeGate* gate, std::function<void()> on_change)
    : timing_(config.timing),
      linger_ms_(config.bootstrap_linger_ms < 0 ? config.timing.max_transmit_span_ms()
                                                : config.bootstrap_linger_ms),
      address_index_(config.address_index),
      record_messages_(config.record_messages),
      shard_(shard),
      timers_(timers),
      radio_(radio),
      gate_(gate),
      link_(config.link, config.link_seed),
      on_change_(std::move(on_change)),
      client_config_(config.client),
      objects_(config.objects ? config.objects
                              : std::shared_ptr<const lwm2m::ObjectRegistry>(
                                    std::shared_ptr<void>(), &lwm2m::ObjectRegistry::builtin())),
      factory_(lwm2m::tree::encode(lwm2m::factory_tree(config.factory, config.client.endpoint),
                                   lwm2m::ObjectRegistry::builtin())
                   .value()),
      reboot_after_power_cut_ms_(config.reboot_after_power_cut_ms) {
  if (config.certificate_issuer) mint_certificate(config);
  if (config.flash && !init_error_) {
    lwm2m::ObjectTree stored = factory_tree();
    stored.erase(lwm2m::kDevice);  // the Device object is firmware, not configuration
    auto storage = Storage::open(*config.flash, std::move(stored));
    if (storage) {
      storage_ = std::move(*storage);
    } else {
      init_error_ = storage.error();
    }
  }
}

Device::~Device() {
  shutdown();
  timers_.cancel(reboot_timer_);
  timers_.cancel(off_timer_);
}

Device* Device::owner(coap_session_t* s) {
  auto* session = static_cast<Session*>(coap_session_get_app_data(s));
  return session ? session->device : nullptr;
}

std::map<std::string, int> Device::exit_counts() const {
  std::map<std::string, int> out;
  if (!core_) return out;
  for (const auto& [exit, n] : core_->exit_counts()) out[lwm2m::to_string(exit)] = n;
  return out;
}

Result<std::vector<uint8_t>> Device::flash_image() const {
  if (!storage_) return Error{ErrorCode::kUnsupported, kNoFlash};
  return storage_->flash().image();
}

Result<flash::StoreView> Device::flash_store() const {
  if (!storage_) return Error{ErrorCode::kUnsupported, kNoFlash};
  return storage_->store().inspect();
}

std::string Device::address() const {
  std::string ip = coap::to_string(coap::device_address(address_index_));
  return ip.substr(0, ip.rfind(':'));  // each session has a port of its own
}

void Device::mint_certificate(const DeviceConfig& config) {
  const std::string& ep = config.client.endpoint;
  Result<coap::Certificate> cert =
      coap::issue(*config.certificate_issuer, lwm2m::with_endpoint(config.certificate_cn, ep),
                  config.client.seed);
  if (!cert) {
    init_error_ = cert.error().prefixed("certificate for " + ep + ": ");
    return;
  }
  lwm2m::Factory f = config.factory;
  f.bootstrap_cert = std::move(cert->cert);
  f.bootstrap_cert_key = std::move(cert->key);
  factory_ =
      lwm2m::tree::encode(lwm2m::factory_tree(f, ep), lwm2m::ObjectRegistry::builtin()).value();
}

lwm2m::ObjectTree Device::factory_tree() const {
  // Encoded by this program from a tree it built, so it decodes.
  return lwm2m::tree::decode(factory_.data(), factory_.size(), lwm2m::ObjectRegistry::builtin())
      .value();
}

Status Device::start() {
  if (init_error_) return *init_error_;
  return boot();
}

Status Device::boot() {
  timers_.cancel(reboot_timer_);
  reboot_timer_ = 0;
  lwm2m::ObjectTree config = factory_tree();
  powered_.store(true, std::memory_order_release);
  if (storage_) {
    auto stored = storage_->boot();
    take_storage_events();
    if (stored.is(ErrorCode::kPowerLost)) {
      lose_power();  // a cut armed in the boot's own flash writes
      return ok_status();
    }
    if (!stored) {
      powered_.store(false, std::memory_order_release);
      record("boot_failed", stored.error().message);
      return stored.error();
    }
    stored->objects()[lwm2m::kDevice] = std::move(config.objects()[lwm2m::kDevice]);
    config = std::move(*stored);
    record("boot",
           "boot " + std::to_string(storage_->store().boot_count()) + ", configuration from flash");
  } else {
    record("boot", "factory configuration (no flash)");
  }
  core_.emplace(client_config_, std::move(config), *objects_);
  core_->start(timers_.clock().now_ms());
  pump();
  return ok_status();
}

void Device::shutdown() {
  for (const auto& [id, timer] : watchdogs_) timers_.cancel(timer);
  watchdogs_.clear();
  for (const auto& [id, ticket] : gate_tickets_) gate_->cancel(ticket);
  gate_tickets_.clear();
  timers_.cancel(wake_timer_);
  timers_.cancel(linger_timer_);
  wake_timer_ = linger_timer_ = 0;
  wake_at_ = -1;
  for (auto& [key, s] : sessions_) release(*s);
  sessions_.clear();
  bootstrap_key_.clear();
}

Status Device::reboot() {
  record("reboot", "RAM lost, booting from flash");
  shutdown();
  return boot();
}

void Device::power_cut() {
  if (storage_) storage_->flash().cut_power();
  lose_power();
}

Status Device::factory_reset() {
  record("factory_reset", "configuration erased back to the factory image");
  shutdown();
  if (storage_) {
    storage_->flash().power_on();
    auto st = storage_->factory_reset();
    take_storage_events();
    if (!st) {
      // Refused whole: the device comes back with what the store holds.
      record("factory_reset_failed", st.error().message);
      (void)boot();
      return st;
    }
  }
  return boot();
}

// The device stops at once; its sessions go on the loop's next turn, since
// this may run inside a libcoap handler of one of them.
void Device::lose_power() {
  if (!powered()) return;
  powered_.store(false, std::memory_order_release);
  ++power_cuts_;
  take_storage_events();
  record("power_cut", "RAM lost; flash as it was at the cut");
  TimeMs now = timers_.clock().now_ms();
  off_timer_ = timers_.at(now, [this] {
    off_timer_ = 0;
    shutdown();
  });
  if (reboot_after_power_cut_ms_ >= 0) {
    reboot_timer_ = timers_.at(now + reboot_after_power_cut_ms_, [this] {
      reboot_timer_ = 0;
      (void)boot();  // a failed boot is on the timeline; nobody else to tell
    });
  }
  on_change_();
}

void Device::commit(const lwm2m::ObjectTree& config) {
  if (!storage_) return;  // RAM only: the core's live tree is all there is
  Status st = storage_->commit(config);
  take_storage_events();
  if (st) return;
  if (st.is(ErrorCode::kPowerLost)) {
    lose_power();
  } else {
    // Not durable, so not acknowledged: on_request answers 5.00, and the
    // core stays in bootstrap.
    commit_failed_ = true;
    core_->commit_failed(timers_.clock().now_ms(), st.error().message);
  }
}

void Device::take_storage_events() {
  if (!storage_) return;
  TimeMs now = timers_.clock().now_ms();
  // Flash latency, charged the only way a real-time clock allows: what the
  // device sends while it was busy leaves when it is done.
  if (uint64_t busy_us = storage_->flash().take_busy_us(); busy_us > 0) {
    TimeMs busy_ms = static_cast<TimeMs>((busy_us + 999) / 1000);
    link_.hold_uplink(now + busy_ms);
    record("flash_busy", std::to_string(busy_ms) + " ms of flash operations");
  }
  for (Event& e : storage_->take_events()) {
    e.time_ms = now;
    timeline_.push_back(std::move(e));
  }
}

void Device::deregister() {
  if (!powered()) return;
  core_->deregister(timers_.clock().now_ms());
  pump();
}

Status Device::set_resource(const std::string& path, const std::string& text) {
  if (!powered()) return Error{ErrorCode::kFailedPrecondition, endpoint() + " is off"};
  Status st = core_->set_resource(timers_.clock().now_ms(), path, text);
  pump();
  return st;
}

void Device::on_notify_failed(const lwm2m::Bytes& token, const std::string& reason) {
  if (!powered()) return;
  core_->on_notify_failed(timers_.clock().now_ms(), token, reason);
  pump();
}

// On the session the observation came in on; gone with it, the
// notification is too, and the observation ends.
void Device::send_notification(const lwm2m::Notify& n) {
  auto it = sessions_.find(session_key(n.to));
  if (it != sessions_.end() && !it->second->dead &&
      shard_.notify(it->second->coap, n.token, n.response))
    return;
  core_->on_notify_failed(timers_.clock().now_ms(), n.token, "not sent: no session to " + n.to.uri);
}

std::optional<lwm2m::Response> Device::on_request(coap_session_t* s, const lwm2m::Request& r) {
  if (!powered()) return std::nullopt;
  auto* session = static_cast<Session*>(coap_session_get_app_data(s));
  if (record_messages_) record("rx", coap::describe(r));
  commit_failed_ = false;  // a failed commit of an idle-timer exit is no answer's business
  lwm2m::Response resp = core_->on_request(timers_.clock().now_ms(), session->origin, r);
  // Commits reach flash before the answer leaves (durable before acknowledged).
  pump();
  if (!powered()) return std::nullopt;
  if (commit_failed_) resp = lwm2m::Response{lwm2m::Code::InternalError, {}, {}, {}};
  if (record_messages_) record("tx", lwm2m::to_string(resp.code));
  return resp;
}

void Device::on_response(uint64_t tag, const lwm2m::Response& r) {
  settle_exchange(tag);
  if (!powered()) return;
  if (record_messages_) record("rx", lwm2m::to_string(r.code));
  core_->on_response(timers_.clock().now_ms(), tag, r);
  pump();
}

void Device::on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) {
  settle_exchange(tag);
  if (!powered()) return;
  record("tx_failed", coap::nack_reason(reason));
  // A DTLS peer that stopped answering may have lost the session: its NAT
  // binding moved (the server sees a new address without a session), or
  // the server restarted. The next request to it handshakes anew rather
  // than sending records nobody can decrypt.
  auto* session = static_cast<Session*>(coap_session_get_app_data(s));
  if (session != nullptr && !session->dead && coap_session_get_proto(s) == COAP_PROTO_DTLS &&
      reason == COAP_NACK_TOO_MANY_RETRIES) {
    session->dead = true;
    record("dtls_session_dropped",
           session->key.substr(3) + ": no answer over it; the next request handshakes anew");
  }
  core_->on_failure(timers_.clock().now_ms(), tag, coap::nack_reason(reason));
  pump();
}

void Device::pump() {
  State before = state();
  BootstrapExit exit_before = last_exit();
  while (powered()) {
    auto action = core_->poll();
    if (!action) break;
    if (auto* send_req = std::get_if<lwm2m::SendRequest>(&*action)) {
      send(std::move(*send_req));
    } else if (auto* e = std::get_if<Event>(&*action)) {
      // Bootstrap time runs from the first request, after any hold-off.
      if (first_request_ms_ < 0 && e->kind == "bootstrap_request") first_request_ms_ = e->time_ms;
      timeline_.push_back(std::move(*e));
    } else if (auto* c = std::get_if<lwm2m::Commit>(&*action)) {
      commit(c->config);
    } else if (auto* n = std::get_if<lwm2m::Notify>(&*action)) {
      send_notification(*n);
    }
  }
  if (!powered()) return;  // what the core still wanted died with its RAM
  state_.store(core_->state(), std::memory_order_release);
  exit_.store(core_->last_exit(), std::memory_order_release);
  if (state() != before) after_state_change(before);
  auto deadline = core_->next_deadline();
  TimeMs want = deadline ? *deadline : -1;
  if (want != wake_at_) {
    timers_.cancel(wake_timer_);
    wake_timer_ = 0;
    wake_at_ = want;
    if (deadline) {
      wake_timer_ = timers_.at(*deadline, [this] {
        wake_timer_ = 0;
        wake_at_ = -1;
        core_->on_timeout(timers_.clock().now_ms());
        pump();
      });
    }
  }
  if (state() != before || last_exit() != exit_before) on_change_();
}

void Device::after_state_change(State from) {
  TimeMs now = timers_.clock().now_ms();
  if (state() == State::Registered) {
    timeline_.shrink_to_fit();  // a settled device stops growing its timeline
  } else if (state() == State::Bootstrapping) {
    timers_.cancel(linger_timer_);
    linger_timer_ = 0;
  } else if (from == State::Bootstrapping && !bootstrap_key_.empty()) {
    if (bootstrap_ms_ < 0 && core_->last_exit() != BootstrapExit::None)
      bootstrap_ms_ = now - first_request_ms_;
    // One descriptor per device is the budget: the bootstrap session goes
    // once a retransmitted Finish can no longer arrive.
    timers_.cancel(linger_timer_);
    linger_timer_ = timers_.at(now + linger_ms_, [this] {
      linger_timer_ = 0;
      if (state() != State::Bootstrapping && sessions_.count(bootstrap_key_)) {
        // From now on the bootstrap server cannot reach the device (a
        // server-initiated bootstrap times out): the timeline says so.
        record("bootstrap_session_released", std::to_string(linger_ms_) + " ms after bootstrap");
        close_session(bootstrap_key_);
      }
    });
  }
}

void Device::send(lwm2m::SendRequest req) {
  auto uri = coap::parse_uri(req.to.uri);
  auto live = sessions_.find(session_key(req.to));
  if (gate_ == nullptr || !uri || !uri->secure ||
      (live != sessions_.end() && !live->second->dead)) {
    std::string error;
    transmit(req, session_for(req.to, &error), error);
    return;
  }
  // A new DTLS session: its handshake waits for a slot at the gate.
  const uint64_t id = req.id;
  gate_tickets_[id] = 0;  // waiting, unless the gate runs the start at once
  uint64_t ticket = gate_->enter([this, req = std::move(req)] {
    // Run at once, the placeholder still holds 0; run later, the ticket.
    auto it = gate_tickets_.find(req.id);
    bool deferred = it != gate_tickets_.end() && it->second != 0;
    if (it != gate_tickets_.end()) gate_tickets_.erase(it);
    std::string error;
    Session* s = session_for(req.to, &error);
    if (s == nullptr || s->handshake_from < 0) gate_->leave();  // no handshake after all
    transmit(req, s, error);
    if (deferred) pump();  // not inside pump(): what the core does next is due now
  });
  if (auto it = gate_tickets_.find(id); it != gate_tickets_.end()) it->second = ticket;
}

void Device::transmit(const lwm2m::SendRequest& req, Session* s, const std::string& error) {
  if (record_messages_ || s == nullptr)
    record("tx", coap::describe(req.request) + (s ? "" : " (not sent: " + error + ")"));
  if (s == nullptr || !shard_.send(s->coap, req.request, req.id)) {
    core_->on_failure(timers_.clock().now_ms(), req.id, s ? "cannot send" : error);
    return;
  }
  watch_exchange(req.id, s->key);
}

// libcoap answers every CON by MAX_TRANSMIT_WAIT: a response or a give-up.
// If neither came, the session is wedged (seen rarely under heavy loss); a
// device resets its transport and treats the request as failed, so its
// state machine moves on instead of waiting for ever.
void Device::watch_exchange(uint64_t id, const std::string& session_key) {
  TimeMs deadline = timers_.clock().now_ms() + timing_.max_transmit_wait_ms() + 1000;
  // A DTLS handshake first takes up to as long again (the same timing).
  if (sessions_.at(session_key).get()->handshake_from >= 0)
    deadline += timing_.max_transmit_wait_ms();
  watchdogs_[id] = timers_.at(deadline, [this, id, session_key] {
    watchdogs_.erase(id);
    record("transport_reset", "no answer and no give-up from libcoap by MAX_TRANSMIT_WAIT; " +
                                  session_key + " reopened");
    close_session(session_key);
    core_->on_failure(timers_.clock().now_ms(), id, "no answer (transport reset)");
    pump();
  });
}

void Device::settle_exchange(uint64_t id) {
  auto it = watchdogs_.find(id);
  if (it == watchdogs_.end()) return;
  timers_.cancel(it->second);
  watchdogs_.erase(it);
}

std::string Device::session_key(const lwm2m::Account& to) {
  return (to.bootstrap ? "bs " : "dm ") + to.uri;
}

std::optional<coap::Psk> Device::credentials(const lwm2m::Account& to, bool secure,
                                             std::string* error) const {
  namespace sec = lwm2m::security;
  if (!secure) return std::nullopt;
  if (to.security_mode != sec::kModePsk) {
    *error = to.uri + " is coaps:// but its security mode is " + std::to_string(to.security_mode) +
             "; this device supports PSK (0) and Certificate (2) over DTLS";
    return std::nullopt;
  }
  return coap::Psk{std::string(to.psk_identity.begin(), to.psk_identity.end()), to.psk_key};
}

std::optional<coap::Certificate> Device::certificate(const lwm2m::Account& to, bool secure) {
  if (!secure || to.security_mode != lwm2m::security::kModeCert) return std::nullopt;
  return coap::Certificate{coap::Der(to.psk_identity.begin(), to.psk_identity.end()), to.psk_key,
                           to.server_public_key};
}

Device::Session* Device::session_for(const lwm2m::Account& to, std::string* error) {
  std::string key = session_key(to);
  auto it = sessions_.find(key);
  if (it != sessions_.end() && !it->second->dead) return it->second.get();
  if (it != sessions_.end()) close_session(key);
  auto remote = coap::parse_uri(to.uri);
  if (!remote) {
    *error = remote.error().message;
    return nullptr;
  }
  std::optional<coap::Certificate> cert = certificate(to, remote->secure);
  std::optional<coap::Psk> psk;
  if (!cert) psk = credentials(to, remote->secure, error);
  if (remote->secure && !psk && !cert) return nullptr;
  coap_address_t local = coap::device_address(address_index_);
  auto s = std::make_unique<Session>(Session{this, {to.bootstrap, to.ssid}, nullptr, key});
  const coap::Psk* creds = psk ? &*psk : nullptr;
  const coap::Certificate* cert_creds = cert ? &*cert : nullptr;
  // With a radio, the session's datagrams pass the device's link on a path
  // of their own, and the session holds no socket; without one, each
  // session costs a descriptor.
  std::unique_ptr<DatagramPort> port;
  if (radio_ != nullptr) {
    if (remote->address.addr.sa.sa_family != AF_INET) {
      *error = "the radio carries IPv4 only: " + to.uri;
      return nullptr;
    }
    port = radio_->open_path(
        device_ip(), endpoint4(remote->address),
        radio::Route{&link_, [this](Event e) { timeline_.push_back(std::move(e)); }, &capture_});
  }
  coap_session_t* cs =
      shard_.connect(local, remote->address, timing_, creds, cert_creds, std::move(port));
  if (cs == nullptr && radio_ == nullptr && !to.bootstrap && sessions_.count(bootstrap_key_)) {
    // Out of descriptors (20,000 per process here): trade the lingering
    // bootstrap session for this one. A retransmitted Finish now goes
    // unanswered, and the timeline says why.
    record("bootstrap_session_closed", "early: no descriptor for " + to.uri);
    close_session(bootstrap_key_);
    cs = shard_.connect(local, remote->address, timing_, creds, cert_creds);
  }
  if (cs == nullptr) {
    *error = radio_ != nullptr
                 ? "cannot create a session from " + address() + " to " + to.uri
                 : "cannot open a UDP socket from " + address() + " (descriptor limit?)";
    return nullptr;
  }
  s->coap = cs;
  coap_session_set_app_data(cs, s.get());
  if (psk) {
    s->handshake_from = timers_.clock().now_ms();
    record("dtls_handshake", "to " + to.uri + " as PSK identity \"" + psk->identity + "\"");
  } else if (cert) {
    s->handshake_from = timers_.clock().now_ms();
    record("dtls_handshake", "to " + to.uri + " with a certificate (" +
                                 std::to_string(cert->cert.size()) + " bytes)");
  }
  if (to.bootstrap) bootstrap_key_ = key;
  return sessions_.emplace(key, std::move(s)).first->second.get();
}

void Device::on_session_event(coap_session_t* cs, coap::SessionEvent e) {
  auto* s = static_cast<Session*>(coap_session_get_app_data(cs));
  TimeMs took = s->handshake_from < 0 ? -1 : timers_.clock().now_ms() - s->handshake_from;
  end_handshake(*s);
  if (e == coap::SessionEvent::DtlsConnected) {
    record("dtls_connected", s->key.substr(3) + " in " + std::to_string(took) + " ms");
    return;
  }
  const char* how = e == coap::SessionEvent::DtlsFailed ? "a DTLS error" : "an alert from the peer";
  if (took >= 0) {
    record("dtls_failed", s->key.substr(3) + ": handshake ended by " + how + " after " +
                              std::to_string(took) + " ms");
  } else {
    record("dtls_closed", s->key.substr(3) + ": closed by " + std::string(how));
  }
  // libcoap fails the session's requests itself (on_failure). The session
  // is dead; it cannot be released inside libcoap's callback, so the next
  // request to its server replaces it.
  s->dead = true;
}

void Device::end_handshake(Session& s) {
  if (s.handshake_from < 0) return;
  s.handshake_from = -1;
  if (gate_ != nullptr) gate_->leave();
}

void Device::close_session(const std::string& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  release(*it->second);
  sessions_.erase(it);
}

void Device::release(Session& s) {
  end_handshake(s);
  shard_.release(s.coap);
}

uint32_t Device::device_ip() const {
  return ntohl(coap::device_address(address_index_).addr.sin.sin_addr.s_addr);
}

void Device::record(std::string kind, std::string detail) {
  timeline_.push_back(Event{timers_.clock().now_ms(), std::move(kind), std::move(detail)});
}

}  // namespace hil::device
