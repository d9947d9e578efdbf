// The LwM2M client core, sans I/O. It is handed time and messages and hands
// back requests to send, configuration commits and timeline events; it never
// reads a clock or a socket, so the same core runs in the emulator, under a
// virtual clock and in firmware.
//
//   core.start(now);
//   loop: deliver on_request / on_response / on_failure / on_timeout,
//         then drain poll() until it returns nothing, then wait until
//         next_deadline().
//
// poll() must be drained before the response that on_request returned is
// sent: a consistent Finish yields a Commit that has to reach flash first
// (PROTOCOL.md, "durable before acknowledged"). The core leaves bootstrap
// only at the poll() after that Commit; a host that could not make it
// durable calls commit_failed() before polling again, and answers the
// Finish 5.00 instead.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/event.h"
#include "emulator/lwm2m/client/backoff.h"
#include "emulator/lwm2m/client/observations.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/object_def.h"
#include "emulator/lwm2m/model/object_tree.h"
#include "emulator/lwm2m/model/profile.h"

namespace hil::lwm2m {

enum class State { Factory, Bootstrapping, Bootstrapped, Registering, Registered, Failed };
enum class BootstrapExit { None, Finish, IdleTimeout, FinishTimeout, Rejected };
const char* to_string(State s);          // "factory", "bootstrapping", ...
const char* to_string(BootstrapExit e);  // "none", "finish", "idle_timeout", ...

struct ClientConfig {
  std::string endpoint;
  Profile profile = Profile::Cr;
  // Profile cr only: ask the server for the finish indication (Finish=true).
  // Without it the client falls back to the legacy idle timer.
  bool request_finish = true;
  // Profile cr, request_finish: a server that does not know the Finish
  // query answers the Request Bootstrap 4.00 or 4.02. Ask once more without
  // it and leave that bootstrap by the legacy idle timer, as the change
  // request lets a client that does not ask for Finish (off: the refusal is
  // a `rejected` exit, retried with Finish=true).
  bool finish_fallback = false;
  uint16_t preferred_format = format::kTlv;  // the pct of profile 1.1

  TimeMs finish_timeout_ms = 247'000;  // EXCHANGE_LIFETIME after the last command
  TimeMs idle_timeout_ms = 5'000;      // legacy exit of profile cr
  Backoff::Params bootstrap_retry{};   // after a failed or rejected bootstrap
  int max_bootstrap_attempts = 0;      // 0: retry forever; else `failed` after
  Backoff::Params register_retry{};
  int register_attempts = 3;  // then fall back to bootstrap (ETS int-7)
  uint64_t seed = 0;          // jitter of retries
};

// Who a request came from, as the transport knows it: a request arrives on
// the session of one server account.
struct Origin {
  bool bootstrap = false;  // the bootstrap-server account's session
  uint16_t ssid = 0;       // otherwise the Short Server ID of the account
};

// A server account: where to send, and how to secure it.
struct Account {
  bool bootstrap = false;
  uint16_t ssid = 0;
  std::string uri;
  int64_t security_mode = security::kModeNoSec;
  // /0/x/3 and /0/x/5: a PSK identity and key, or in certificate mode the
  // client's certificate and private key (DER).
  std::string psk_identity;
  Bytes psk_key;
  Bytes server_public_key;  // /0/x/4: in certificate mode, what the server's must chain to
};

struct SendRequest {
  uint64_t id;  // echoed in on_response / on_failure
  Account to;
  Request request;
};
// Persist this configuration (objects 0, 1, 2) before going on.
struct Commit {
  ObjectTree config;
};
// A notification on an observation (Observations): a response the host
// sends on its own, on `token`, over the session of account `to`.
struct Notify {
  Account to;
  Bytes token;
  Response response;
};
using Action = std::variant<SendRequest, Commit, Event, Notify>;

class Client {
 public:
  // `stored` is the configuration found in flash at boot: the factory
  // bootstrap account, or what an earlier bootstrap committed. It must hold
  // the Device object; the registry must outlive the client.
  Client(ClientConfig config, ObjectTree stored,
         const ObjectRegistry& registry = ObjectRegistry::builtin());

  void start(TimeMs now);
  Response on_request(TimeMs now, Origin from, const Request& request);
  void on_response(TimeMs now, uint64_t id, const Response& response);
  // The transport gave up: no answer after its retransmissions, or a reset.
  void on_failure(TimeMs now, uint64_t id, const std::string& reason);
  // The last Commit poll() handed out did not reach flash (a full or
  // failing flash; a power cut ends the core instead). The core stays in
  // bootstrap with what it staged, so the bootstrap server may send Finish
  // again; the finish timeout (or the legacy idle timer) runs anew.
  void commit_failed(TimeMs now, const std::string& why);
  void on_timeout(TimeMs now);
  std::optional<TimeMs> next_deadline() const;
  std::optional<Action> poll();

  void deregister(TimeMs now);

  // Sets the resource at `path` (/obj/inst/res) from its plain-text form,
  // as the device's own firmware would (a sensor reading, the clock), so
  // that observers are notified. An error says what is wrong.
  Status set_resource(TimeMs now, const std::string& path, const std::string& text);
  // A notification sent on `token` was reset or never acknowledged: the
  // observer is gone (RFC 7641, 4.5), and so is the observation.
  void on_notify_failed(TimeMs now, const Bytes& token, const std::string& reason);
  size_t observations() const { return observations_.size(); }

  State state() const { return state_; }
  BootstrapExit last_exit() const { return last_exit_; }
  const std::map<BootstrapExit, int>& exit_counts() const { return exit_counts_; }
  const ObjectTree& objects() const { return live_; }
  const ObjectTree* staged() const { return staged_ ? &*staged_ : nullptr; }
  const ClientConfig& config() const { return config_; }

 private:
  enum class Pending { BootstrapRequest, Register, Update, Deregister };
  struct Timer {
    std::optional<TimeMs> at;
    bool due(TimeMs now) const { return at && *at <= now; }
  };

  // bootstrap
  void begin_bootstrap(TimeMs now, TimeMs delay);
  void send_bootstrap_request(TimeMs now, bool fallback = false);
  bool asks_finish() const;
  bool legacy_exit() const;
  bool refused_for_finish(Code refusal) const;
  void bootstrap_refused(TimeMs now, Code code);
  void touch_bootstrap(TimeMs now);
  void end_bootstrap(TimeMs now, BootstrapExit how);
  void request_commit(TimeMs now, BootstrapExit how);
  void exit_bootstrap();
  void bootstrap_failed(TimeMs now, BootstrapExit how, const std::string& why);
  Response bootstrap_command(TimeMs now, const Request& request);
  Response bootstrap_write(const Path& path, const Request& request);
  Response bootstrap_delete(const Path& path);
  Response bootstrap_get(const ObjectTree& tree, const Path& path, const Request& request);
  Response bootstrap_discover(const ObjectTree& tree, const Path& path) const;
  Response bootstrap_read(const ObjectTree& tree, const Path& path, const Request& request) const;
  Response bootstrap_finish(TimeMs now, const Request& request);
  Code bootstrap_refusal() const;
  bool format_allowed(uint16_t fmt) const;

  // registration
  void begin_registration(TimeMs now);
  void send_register(TimeMs now);
  void send_update(TimeMs now);
  void registration_failed(TimeMs now, const std::string& why);
  Response server_command(TimeMs now, Origin from, const Request& request);
  Response read(const ObjectDef& def, const Path& path, uint16_t format) const;

  // observe (observations.h)
  void observe(TimeMs now, Origin from, const Request& request, const Path& path, Response& answer);
  Response write_attributes(TimeMs now, Origin from, const Request& request, const Path& path);
  void check_observations(TimeMs now);
  bool notify(TimeMs now, Observations::Entry& e);
  void end_observations(TimeMs now, const std::string& why);

  uint64_t send(Pending what, const Account& to, Request request);
  void set_state(TimeMs now, State s);
  void event(TimeMs now, std::string kind, std::string detail);

  ClientConfig config_;
  const ObjectRegistry& registry_;
  State state_ = State::Factory;
  BootstrapExit last_exit_ = BootstrapExit::None;
  std::map<BootstrapExit, int> exit_counts_;

  ObjectTree live_;
  std::optional<ObjectTree> staged_;  // what bootstrap wrote, until it ends
  std::optional<Account> server_;     // the account we register with
  std::vector<std::string> location_;
  uint32_t lifetime_s_ = 0;
  Observations observations_;

  Backoff bootstrap_backoff_;
  Backoff register_backoff_;
  int bootstrap_attempts_ = 0;
  int register_failures_ = 0;
  Timer bootstrap_timer_;  // finish timeout or legacy idle timer
  Timer retry_timer_;      // next bootstrap or registration attempt
  Timer update_timer_;
  bool retry_is_bootstrap_ = true;
  // The server refused Finish=true in this bootstrap (finish_fallback): the
  // idle timer ends it. Every new bootstrap asks for Finish again.
  bool finish_declined_ = false;

  // A Commit on its way to flash: how and when bootstrap ends once it
  // landed; `handed` once poll() gave it to the host.
  struct Committing {
    BootstrapExit how;
    TimeMs at;
    bool handed = false;
  };
  std::optional<Committing> committing_;

  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::vector<Action> actions_;
  size_t actions_head_ = 0;
};

}  // namespace hil::lwm2m
