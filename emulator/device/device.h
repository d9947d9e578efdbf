// A virtual device: the client core wired to CoAP sessions on a shared
// libcoap context, with a timeline of everything it did. Lives on one loop
// thread; state() and last_exit() may be read from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/timers.h"
#include "emulator/coap/context.h"
#include "emulator/device/handshake_gate.h"
#include "emulator/device/virtual_device.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/lwm2m/client/factory.h"
#include "emulator/lwm2m/driver/driver.h"
#include "emulator/radio/radio.h"
#include "emulator/storage/storage.h"

namespace hil::device {

struct DeviceConfig {
  lwm2m::ClientConfig client;  // client.endpoint names the device
  coap::Timing timing;
  // The factory bootstrap account (coaps:// with a PSK key), an optional
  // factory server account, and the Device object's identity.
  lwm2m::Factory factory;
  // How long the bootstrap-server session stays open after bootstrap ends,
  // so a retransmitted Finish still gets its answer. -1: MAX_TRANSMIT_SPAN.
  int64_t bootstrap_linger_ms = -1;
  uint32_t address_index = 0;   // its own loopback source address
  bool record_messages = true;  // "tx"/"rx" events on the timeline
  // Persistent storage. Without it the device keeps its configuration in
  // RAM only, and a reboot brings back the factory configuration.
  std::optional<storage::FlashConfig> flash;
  int64_t reboot_after_power_cut_ms = 100;  // -1: stay off until reboot()
  // The device's radio link: what happens to its datagrams on the way.
  radio::LinkConfig link;
  uint64_t link_seed = 0;
  // Certificate mode for a fleet: each device leaves the factory with a key
  // and a certificate of its own, signed by this issuer, its Common Name
  // `certificate_cn` with "{endpoint}" replaced (minted from the client's
  // seed, into factory.bootstrap_cert and bootstrap_cert_key).
  std::optional<coap::Issuer> certificate_issuer;
  std::string certificate_cn = "{endpoint}";
  // The objects the device knows: null for the builtin ones; a fleet shares
  // one registry (ddf::registry_with adds a user's DDF objects). Only objects
  // 0, 1 and 2 go to flash, so a user object's values last until a reboot.
  std::shared_ptr<const lwm2m::ObjectRegistry> objects;
};

// The error of a flash operation on a device made without flash.
inline constexpr const char* kNoFlash = "this device has no flash; create it with a flash geometry";

// The client core runs in an lwm2m::Driver; the device is its transport
// (libcoap sessions, through the radio), its store (the flash) and its
// listener (the timeline).
class Device : public VirtualDevice,
               private lwm2m::Transport,
               private lwm2m::Store,
               private lwm2m::Driver::Listener {
 public:
  // `on_change` runs on the loop thread after the state or exit changed.
  // With a radio, every datagram passes it; without one (null), sessions
  // talk to servers directly. DTLS handshakes wait for `gate`, if any.
  Device(const DeviceConfig& config, coap::Context& context, Timers& timers, radio::Radio* radio,
         HandshakeGate* gate, std::function<void()> on_change);
  ~Device() override;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Boots: loads the configuration from flash and runs the client. Errors:
  // Storage::open()'s and Storage::boot()'s (a power cut in the boot is no
  // error: the device is off, as after power_cut()).
  Status start() override;
  void deregister();
  // Sets a resource from its plain-text form, as the device's firmware
  // would; observers of it are notified (Client::set_resource).
  Status set_resource(const std::string& path, const std::string& text);
  // Loses RAM and boots again from flash (ETS 1.1-int-6).
  Status reboot() override;
  // Power off now, between two flash operations; boots again after
  // reboot_after_power_cut_ms.
  void power_cut() override;
  // Erases the configuration back to the factory image, then reboots.
  // Errors: ConfigStore::factory_reset()'s (kResourceExhausted: refused
  // whole, the device boots with what the store holds).
  Status factory_reset();
  storage::Storage* storage() { return storage_.get(); }
  // Moves the flash's fault events (and busy time) onto the timeline; call
  // after injecting a fault from outside.
  void take_storage_events();
  radio::Link& link() override { return link_; }
  // Capture this device's datagrams into a pcapng file; null stops it.
  void set_capture(std::shared_ptr<radio::Capture> capture) override {
    capture_ = std::move(capture);
  }

  // The device a session belongs to, or null once it was closed.
  static Device* owner(coap_session_t* s);

  // From the device group, on the loop thread. nullopt: the device lost power
  // while handling the request and answers nothing.
  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r);
  void on_response(uint64_t tag, const lwm2m::Response& r);
  void on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason);
  void on_session_event(coap_session_t* s, coap::SessionEvent e);
  void on_notify_failed(const lwm2m::Bytes& token, const std::string& reason);

  // Any thread.
  lwm2m::State state() const override { return state_.load(std::memory_order_acquire); }
  lwm2m::BootstrapExit last_exit() const override { return exit_.load(std::memory_order_acquire); }
  const std::string& endpoint() const override { return driver_.client_config().endpoint; }
  bool powered() const override { return powered_.load(std::memory_order_acquire); }

  // Loop thread.
  // Null while the device is off (not started yet, or after a power cut).
  const lwm2m::Client* core() const { return driver_.core(); }
  int power_cuts() const override { return power_cuts_; }
  // Boots that found a torn configuration (Storage::torn_configs); 0 without flash.
  int torn_configs() const override { return storage_ ? storage_->torn_configs() : 0; }
  const std::vector<Event>& timeline() const override { return timeline_; }
  std::map<std::string, int> exit_counts() const override;
  std::string address() const override;
  // From the first Request Bootstrap to the first exit; -1 until then.
  TimeMs bootstrap_duration_ms() const override { return bootstrap_ms_; }
  Result<std::vector<uint8_t>> flash_image() const override;
  Result<flash::StoreView> flash_store() const override;

 private:
  struct Session {
    Device* device;
    lwm2m::Origin origin;
    coap_session_t* coap = nullptr;
    std::string key;             // in sessions_
    TimeMs handshake_from = -1;  // a DTLS handshake runs since then
    bool dead = false;           // DTLS failed or closed: replace on next use
  };

  Status boot();
  lwm2m::ObjectTree factory_tree() const;
  // Replaces factory_ with one that holds a certificate minted for this
  // device; a failure is init_error_.
  void mint_certificate(const DeviceConfig& config);
  void shutdown();
  void lose_power();
  // lwm2m::Transport
  void send(const lwm2m::SendRequest& req) override;
  Status notify(const lwm2m::Notify& n) override;
  bool close(const std::string& key) override { return close_session(key); }
  // lwm2m::Store
  Status commit(const lwm2m::ObjectTree& config) override;
  // lwm2m::Driver::Listener
  void on_event(Event e) override;
  void on_change(lwm2m::State from) override;
  void on_power_lost() override { lose_power(); }

  void transmit(const lwm2m::SendRequest& req, Session* s, const std::string& error);
  // A DTLS session whose peer stopped answering is replaced at its next use.
  void drop_dead_dtls(coap_session_t* s, coap_nack_reason_t reason);
  Session* session_for(const lwm2m::Account& to, std::string* error);
  std::optional<coap::Psk> credentials(const lwm2m::Account& to, bool secure,
                                       std::string* error) const;
  // Certificate mode's credentials for a coaps:// account, or nullopt.
  static std::optional<coap::Certificate> certificate(const lwm2m::Account& to, bool secure);
  void end_handshake(Session& s);
  bool close_session(const std::string& key);
  void release(Session& s);
  uint32_t device_ip() const;  // 127.1.x.y, host order
  void record(std::string kind, std::string detail);

  // What the device needs of its DeviceConfig after construction; the rest
  // went into the core's factory configuration (fleets hold thousands).
  coap::Timing timing_;
  uint32_t address_index_;
  coap::Context& context_;
  Timers& timers_;
  radio::Radio* radio_;
  HandshakeGate* gate_;
  std::map<uint64_t, uint64_t> gate_tickets_;  // request id -> its wait at the gate
  radio::Link link_;
  std::shared_ptr<radio::Capture> capture_;
  std::function<void()> on_change_;
  std::shared_ptr<const lwm2m::ObjectRegistry> objects_;  // never null
  // Objects 0 and 1 as shipped, and the Device object, TLV-encoded: a
  // fleet holds thousands, and a tree of maps costs ten times the bytes.
  std::vector<uint8_t> factory_;
  std::unique_ptr<storage::Storage> storage_;
  int64_t reboot_after_power_cut_ms_;
  lwm2m::Driver driver_;  // the core: its RAM is gone at a power cut
  int power_cuts_ = 0;
  Timers::Id reboot_timer_ = 0;
  Timers::Id off_timer_ = 0;
  std::optional<Error> init_error_;                           // why the storage could not be opened
  std::map<std::string, std::unique_ptr<Session>> sessions_;  // by session_key
  std::string bootstrap_key_;
  std::vector<Event> timeline_;
  TimeMs first_request_ms_ = -1;
  TimeMs bootstrap_ms_ = -1;
  std::atomic<lwm2m::State> state_{lwm2m::State::Factory};
  std::atomic<lwm2m::BootstrapExit> exit_{lwm2m::BootstrapExit::None};
  std::atomic<bool> powered_{false};
};

}  // namespace hil::device
