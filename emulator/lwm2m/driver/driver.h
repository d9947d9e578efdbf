// The client core on a host: hands it messages and time, and carries out
// what it asks for (client.h: deliver, then drain poll(), then wait for
// next_deadline()). Native devices (emulator/device) and the firmware image
// (firmware-images/app) run their core through this one driver; each brings
// a Transport (its CoAP), a Store (its flash), Timers (its clock) and a
// Listener (its timeline and its power). Firmware-clean: no libcoap, no
// socket, no clock of its own.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/base/timers.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/lwm2m/driver/store.h"
#include "emulator/lwm2m/driver/transport.h"

namespace hil::lwm2m {

struct DriverConfig {
  // MAX_TRANSMIT_WAIT of the transport's timing (coap::Timing): by then
  // every CON has been answered or given up on.
  TimeMs max_transmit_wait_ms = 93'000;
  // How long the bootstrap-server session stays open after bootstrap ends,
  // so that a retransmitted Finish still gets its answer: MAX_TRANSMIT_SPAN.
  TimeMs bootstrap_linger_ms = 45'000;
  bool record_messages = true;  // "rx"/"tx" events for every message
};

class Driver {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // Every event of the core and of the driver, stamped.
    virtual void on_event(Event e) = 0;
    // After the state or the bootstrap exit changed; `from`: the state before.
    virtual void on_change(State from) = 0;
    // A commit found the power gone: the device is off. Calls stop() (the
    // native device) or does not return (the image).
    virtual void on_power_lost() = 0;
  };

  // Everything passed by reference must outlive the driver.
  Driver(ClientConfig client, const DriverConfig& config, Timers& timers, Transport& transport,
         Store& store, Listener& listener);
  ~Driver() { stop(); }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Boots a new core on `config` (what the flash holds) and runs it.
  // `objects` must outlive the driver.
  void start(ObjectTree config, const ObjectRegistry& objects = ObjectRegistry::builtin());
  // RAM lost: the core stops, its timers and watchdogs go. The core stays
  // readable until the next start(); the transport's sessions are the host's.
  void stop();
  bool running() const { return running_; }
  // Null before the first start().
  const Client* core() const { return core_ ? &*core_ : nullptr; }
  const ClientConfig& client_config() const { return client_; }
  State state() const { return state_; }
  BootstrapExit last_exit() const { return exit_; }

  // From the transport. nullopt: the device lost power while handling the
  // request (or had none), and answers nothing.
  std::optional<Response> on_request(Origin from, const Request& r);
  void on_response(uint64_t id, const Response& r);
  void on_failure(uint64_t id, const std::string& reason);
  void on_notify_failed(const Bytes& token, const std::string& reason);
  // Transport::send()'s report: `req` leaves now (`handshake`: a DTLS
  // handshake goes first); call it before handing the request over, so its
  // "tx" comes before what the way records. Or: it cannot leave, and why
  // (also after sent(), if handing it over failed).
  void sent(const SendRequest& req, bool handshake);
  void not_sent(const SendRequest& req, const std::string& why);

  // From the host.
  void deregister();
  // Client::set_resource(), then what follows from it (notifications).
  Status set_resource(const std::string& path, const std::string& text);
  // Drains the core's actions and sets its timer.
  void pump();

 private:
  TimeMs now() const { return timers_.clock().now_ms(); }
  void commit(const ObjectTree& config);
  void notify(const Notify& n);
  void after_state_change(State from);
  void watch_exchange(uint64_t id, std::string key, bool handshake);
  void settle_exchange(uint64_t id);
  void record(std::string kind, std::string detail);

  ClientConfig client_;
  DriverConfig config_;
  Timers& timers_;
  Transport& transport_;
  Store& store_;
  Listener& listener_;
  std::optional<Client> core_;  // RAM
  bool running_ = false;
  bool commit_failed_ = false;  // a commit failed, not for lack of power
  State state_ = State::Factory;
  BootstrapExit exit_ = BootstrapExit::None;
  std::map<uint64_t, Timers::Id> watchdogs_;  // requests in flight
  DeadlineTimer wake_;                        // the core's next deadline
  Timers::Id linger_timer_ = 0;
  std::string bootstrap_key_;  // session_key of the bootstrap server, once used
};

}  // namespace hil::lwm2m
