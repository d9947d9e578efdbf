#include "emulator/device/device.h"

#include <arpa/inet.h>

#include "emulator/coap/address.h"
#include "emulator/coap/pdu.h"
#include "emulator/flash/file_image.h"
#include "emulator/lwm2m/codec/tree.h"

namespace hil::device {

using lwm2m::BootstrapExit;
using lwm2m::State;

namespace {

Ipv4SocketAddress endpoint4(const coap_address_t& a) {
  return Ipv4SocketAddress{ntohl(a.addr.sin.sin_addr.s_addr), ntohs(a.addr.sin.sin_port)};
}

// A flash image the host keeps as a file (storage::ImageOpener).
Result<std::unique_ptr<flash::ImageObserver>> open_file_image(const std::string& path,
                                                              flash::NorFlash& flash) {
  HIL_TRY_ASSIGN(auto image, flash::FileImage::open(path, flash));
  return std::unique_ptr<flash::ImageObserver>(std::move(image));
}

lwm2m::DriverConfig driver_config(const DeviceConfig& config) {
  lwm2m::DriverConfig d;
  d.max_transmit_wait_ms = config.timing.max_transmit_wait_ms();
  d.bootstrap_linger_ms = config.bootstrap_linger_ms < 0 ? config.timing.max_transmit_span_ms()
                                                         : config.bootstrap_linger_ms;
  d.record_messages = config.record_messages;
  return d;
}

}  // namespace

Device::Device(const DeviceConfig& config, coap::Context& context, Timers& timers,
               radio::Radio* radio, HandshakeGate* gate, std::function<void()> on_change)
    : timing_(config.timing),
      address_index_(config.address_index),
      context_(context),
      timers_(timers),
      radio_(radio),
      gate_(gate),
      link_(config.link, config.link_seed),
      on_change_(std::move(on_change)),
      objects_(config.objects ? config.objects
                              : std::shared_ptr<const lwm2m::ObjectRegistry>(
                                    std::shared_ptr<void>(), &lwm2m::ObjectRegistry::builtin())),
      factory_(lwm2m::tree::encode(lwm2m::factory_tree(config.factory, config.client.endpoint),
                                   lwm2m::ObjectRegistry::builtin())
                   .value()),
      reboot_after_power_cut_ms_(config.reboot_after_power_cut_ms),
      driver_(config.client, driver_config(config), timers, *this, *this, *this) {
  if (config.certificate_issuer) mint_certificate(config);
  if (config.flash && !init_error_) {
    lwm2m::ObjectTree stored = factory_tree();
    stored.erase(lwm2m::kDevice);  // the Device object is firmware, not configuration
    auto storage = storage::Storage::open(*config.flash, stored, open_file_image);
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
  const lwm2m::Client* core = driver_.core();
  if (core == nullptr) return out;
  for (const auto& [exit, n] : core->exit_counts()) out[lwm2m::to_string(exit)] = n;
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
  driver_.start(std::move(config), *objects_);
  return ok_status();
}

void Device::shutdown() {
  driver_.stop();
  for (const auto& [id, ticket] : gate_tickets_) gate_->cancel(ticket);
  gate_tickets_.clear();
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
  driver_.stop();
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

Status Device::commit(const lwm2m::ObjectTree& config) {
  if (!storage_) return ok_status();  // RAM only: the core's live tree is all there is
  Status st = storage_->commit(config);
  take_storage_events();
  return st;
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

void Device::deregister() { driver_.deregister(); }

Status Device::set_resource(const std::string& path, const std::string& text) {
  return driver_.set_resource(path, text);
}

void Device::on_notify_failed(const lwm2m::Bytes& token, const std::string& reason) {
  driver_.on_notify_failed(token, reason);
}

Status Device::notify(const lwm2m::Notify& n) {
  auto it = sessions_.find(lwm2m::session_key(n.to));
  if (it != sessions_.end() && !it->second->dead &&
      context_.notify(it->second->coap, n.token, n.response))
    return ok_status();
  return Error{ErrorCode::kUnavailable, "not sent: no session to " + n.to.uri};
}

std::optional<lwm2m::Response> Device::on_request(coap_session_t* s, const lwm2m::Request& r) {
  auto* session = static_cast<Session*>(coap_session_get_app_data(s));
  return driver_.on_request(session->origin, r);
}

void Device::on_response(uint64_t tag, const lwm2m::Response& r) { driver_.on_response(tag, r); }

void Device::on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) {
  if (powered()) drop_dead_dtls(s, reason);
  driver_.on_failure(tag, coap::nack_reason(reason));
}

void Device::drop_dead_dtls(coap_session_t* s, coap_nack_reason_t reason) {
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
}

void Device::on_event(Event e) {
  // Bootstrap time runs from the first request, after any hold-off.
  if (first_request_ms_ < 0 && e.kind == "bootstrap_request") first_request_ms_ = e.time_ms;
  timeline_.push_back(std::move(e));
}

void Device::on_change(State from) {
  state_.store(driver_.state(), std::memory_order_release);
  exit_.store(driver_.last_exit(), std::memory_order_release);
  if (state() == State::Registered) {
    timeline_.shrink_to_fit();  // a settled device stops growing its timeline
  } else if (from == State::Bootstrapping && state() != State::Bootstrapping && bootstrap_ms_ < 0 &&
             first_request_ms_ >= 0 && last_exit() != BootstrapExit::None) {
    bootstrap_ms_ = timers_.clock().now_ms() - first_request_ms_;
  }
  on_change_();
}

void Device::send(const lwm2m::SendRequest& req) {
  auto uri = coap::parse_uri(req.to.uri);
  auto live = sessions_.find(lwm2m::session_key(req.to));
  if (gate_ == nullptr || !uri || !uri->secure ||
      (live != sessions_.end() && !live->second->dead)) {
    std::string error;
    transmit(req, session_for(req.to, &error), error);
    return;
  }
  // A new DTLS session: its handshake waits for a slot at the gate.
  const uint64_t id = req.id;
  gate_tickets_[id] = 0;  // waiting, unless the gate runs the start at once
  uint64_t ticket = gate_->enter([this, req] {
    // Run at once, the placeholder still holds 0; run later, the ticket.
    auto it = gate_tickets_.find(req.id);
    bool deferred = it != gate_tickets_.end() && it->second != 0;
    if (it != gate_tickets_.end()) gate_tickets_.erase(it);
    std::string error;
    Session* s = session_for(req.to, &error);
    if (s == nullptr || s->handshake_from < 0) gate_->leave();  // no handshake after all
    transmit(req, s, error);
    if (deferred) driver_.pump();  // not inside pump(): what the core does next is due now
  });
  if (auto it = gate_tickets_.find(id); it != gate_tickets_.end()) it->second = ticket;
}

void Device::transmit(const lwm2m::SendRequest& req, Session* s, const std::string& error) {
  if (s == nullptr) {
    driver_.not_sent(req, error);
    return;
  }
  driver_.sent(req, s->handshake_from >= 0);
  if (!context_.send(s->coap, req.request, req.id)) driver_.not_sent(req, "cannot send");
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
  std::string key = lwm2m::session_key(to);
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
      context_.connect(local, remote->address, timing_, creds, cert_creds, std::move(port));
  if (cs == nullptr && radio_ == nullptr && !to.bootstrap && sessions_.count(bootstrap_key_)) {
    // Out of descriptors (20,000 per process here): trade the lingering
    // bootstrap session for this one. A retransmitted Finish now goes
    // unanswered, and the timeline says why.
    record("bootstrap_session_closed", "early: no descriptor for " + to.uri);
    close_session(bootstrap_key_);
    cs = context_.connect(local, remote->address, timing_, creds, cert_creds);
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

bool Device::close_session(const std::string& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return false;
  release(*it->second);
  sessions_.erase(it);
  return true;
}

void Device::release(Session& s) {
  end_handshake(s);
  context_.release(s.coap);
}

uint32_t Device::device_ip() const {
  return ntohl(coap::device_address(address_index_).addr.sin.sin_addr.s_addr);
}

void Device::record(std::string kind, std::string detail) {
  timeline_.push_back(Event{timers_.clock().now_ms(), std::move(kind), std::move(detail)});
}

}  // namespace hil::device
