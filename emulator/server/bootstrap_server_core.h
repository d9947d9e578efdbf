// The bootstrap server's protocol logic, sans-I/O: the transport hands it
// requests, responses and failures with the current time, and sends what
// poll_request() returns. Retransmission, deduplication and timeouts are
// the transport's (libcoap's); this class never sees a duplicate.
//
// Per endpoint, one session at a time (a new Request Bootstrap cancels the
// old one) and one request in flight: the configured deletes, the writes,
// then Bootstrap-Finish when the profile and finish policy call for it.
// Error answers to Write or Delete are recorded and the session goes on;
// Finish decides the outcome.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/profile.h"
#include "emulator/server/bootstrap_config.h"
#include "emulator/server/event_log.h"
#include "emulator/server/peer.h"

namespace hil::server {

enum class Outcome {
  Success,
  NoBootstrapConfig,
  Unauthorized,
  RequestFailed,
  FinishFailed,
  Timeout,
  Cancelled,
};
const char* to_string(Outcome o);  // "SUCCESS", "NO_BOOTSTRAP_CONFIG", ...

// How a request failed without an answer.
enum class Failure {
  Timeout,    // no answer after the transport's retransmissions
  SendError,  // the transport could not send it
};

// The latest session of one endpoint.
struct EndpointResult {
  std::string endpoint;
  PeerId peer = 0;
  lwm2m::Profile profile = lwm2m::Profile::V1_0;
  std::optional<Outcome> outcome;  // nullopt while the session runs
  std::string reason;              // why it failed, for people
  TimeMs started_ms = 0, ended_ms = 0;
  // "request", "session", "tx", "rx", "command_failed", "failure",
  // "rejected", "outcome".
  std::vector<Event> events;
  int sessions = 0;  // all sessions of this endpoint, this one included
  int requests_sent = 0;
  int error_responses = 0;  // error answers to Write or Delete
  int finish_sent = 0;
  int events_evicted = 0;  // the oldest, beyond max_endpoint_events
};

// What a flood of Request Bootstraps can cost at most: results of ended
// sessions beyond `max_results` go oldest-ended first (running sessions
// are never evicted); each result keeps its latest `max_endpoint_events`.
struct BootstrapLimits {
  size_t max_results = 100000;
  size_t max_endpoint_events = 256;
  size_t max_events = 10000;  // events() that name no endpoint
  // How long the transport may hold a cancelled session's request (its
  // MAX_TRANSMIT_WAIT) before the peer's next session goes ahead anyway:
  // an exchange that ends unreported (an ACK with a garbled token) must
  // not block its peer for good.
  TimeMs max_orphan_ms = 93000;
};

struct BootstrapCounters {
  uint64_t results_evicted = 0;
  uint64_t endpoint_events_evicted = 0;
  uint64_t events_evicted = 0;
};

class BootstrapServerCore {
 public:
  struct Outgoing {
    uint64_t request_id;
    PeerId peer;
    std::string endpoint;
    lwm2m::Request request;
  };

  BootstrapServerCore(BootstrapConfig config, lwm2m::Profile default_profile,
                      BootstrapLimits limits = {});

  // Request Bootstrap (POST /bs?ep=...). Answer it before sending what
  // poll_request() then returns: clients expect 2.04 first.
  lwm2m::Response on_request(TimeMs now, PeerId peer, const lwm2m::Request& req);
  // Server-initiated bootstrap (1.0): the same commands, no request.
  // Fails, with outcome NO_BOOTSTRAP_CONFIG, when no entry matches.
  Status start_session(TimeMs now, PeerId peer, const std::string& endpoint);

  // The next request to send, if any session has one ready.
  std::optional<Outgoing> poll_request(TimeMs now);
  void on_response(TimeMs now, uint64_t request_id, const lwm2m::Response& resp);
  // Any request that gets no answer fails its session (TIMEOUT or
  // REQUEST_FAILED), as in Leshan.
  void on_failure(TimeMs now, uint64_t request_id, Failure kind, const std::string& reason);

  const BootstrapConfig& config() const { return config_; }
  // New sessions follow `config`; running ones finish with what they had.
  void reconfigure(BootstrapConfig config) { config_ = std::move(config); }
  const std::map<std::string, EndpointResult>& results() const { return results_; }
  const EndpointResult* result(const std::string& endpoint) const;
  // Requests that name no endpoint, so belong to no result.
  std::vector<Event> events() const { return events_.snapshot(); }
  BootstrapCounters counters() const;
  const BootstrapLimits& limits() const { return limits_; }

  // Called whenever a session ends, with its final result.
  std::function<void(const EndpointResult&)> on_outcome;
  // Optional: why `peer` may not act as `endpoint`, or nullopt when it may.
  // A refused Request Bootstrap gets 4.00 and the outcome UNAUTHORIZED.
  std::function<std::optional<std::string>(PeerId, const std::string& endpoint)> authorize;
  // A client refused before or outside a request (a failed DTLS handshake):
  // UNAUTHORIZED for `endpoint` if known and idle, else a "rejected" event.
  void refuse(TimeMs now, PeerId peer, const std::string& endpoint, const std::string& reason);

 private:
  struct Session {
    PeerId peer;
    std::vector<lwm2m::Request> commands;  // Finish last, when sent
    bool sends_finish = false;
    size_t next = 0;
    std::optional<uint64_t> in_flight;
  };

  EndpointResult& begin_result(TimeMs now, PeerId peer, const std::string& ep);
  void start(TimeMs now, PeerId peer, const std::string& ep, const EndpointConfig& cfg,
             bool finish_requested);
  void cancel_conflicting(TimeMs now, PeerId peer, const std::string& ep,
                          const std::string& reason);
  void end(TimeMs now, const std::string& ep, Outcome outcome, const std::string& reason);
  void note(TimeMs now, const std::string& ep, const char* kind, std::string detail);
  void evict_ended();
  void release_orphan(uint64_t request_id);
  void release_stale_orphans(TimeMs now);

  BootstrapConfig config_;
  lwm2m::Profile default_profile_;
  BootstrapLimits limits_;
  BootstrapCounters counters_;
  std::map<std::string, EndpointResult> results_;
  // Endpoints whose session has ended, oldest first: the eviction order.
  std::list<std::string> ended_;
  std::map<std::string, std::list<std::string>::iterator> ended_at_;
  EventLog events_;
  std::map<std::string, Session> sessions_;   // by endpoint
  std::map<PeerId, std::string> peers_;       // peer -> its session's endpoint
  std::map<uint64_t, std::string> requests_;  // in flight -> endpoint
  // Requests of ended sessions still in the transport's hands, and their
  // peers: a peer's next session sends nothing until its orphan's exchange
  // ends, so a peer that floods Request Bootstraps leaves at most one
  // request queued in the transport, not one per cancelled session.
  struct Orphan {
    PeerId peer;
    TimeMs since;
  };
  std::map<uint64_t, Orphan> orphans_;  // by request id: oldest first
  std::set<PeerId> blocked_;
  std::deque<std::string> ready_;  // sessions with a request to send
  uint64_t next_request_id_ = 1;
};

}  // namespace hil::server
