// The bootstrap server's protocol logic, sans-I/O: the transport hands it
// requests, responses and failures with the current time, and sends what
// poll_request() returns. Retransmission, deduplication and timeouts are
// the transport's (libcoap's); this class never sees a duplicate.
//
// Per endpoint, one session at a time (a new Request Bootstrap cancels the
// old one) and one request in flight: the configured discovers, reads
// (their answers kept in the result), deletes, the writes, then
// Bootstrap-Finish when the profile and finish policy call for it. An error
// answer to any of them fails the session (WRITE_REJECTED, DELETE_REJECTED,
// READ_REJECTED, DISCOVER_REJECTED) unless the configuration marks that
// command optional.
//
// The profile of a session: the entry's, else the server's default, else
// the request's dialect: `Finish=true` is cr, `pct` is 1.1, anything else
// 1.0. So without an explicit "cr", every client gets Finish.
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
  WriteRejected,     // a Write not marked optional got an error answer
  DeleteRejected,    // a Delete not marked optional got an error answer
  ReadRejected,      // a Bootstrap-Read not marked optional got an error answer
  DiscoverRejected,  // the same for a Bootstrap-Discover
  // Certificate mode: the client's certificate did not chain to the
  // trusted CA, was outside its validity period, or named another endpoint.
  CertUntrusted,
  CertExpired,
  CertNameMismatch,
};
const char* to_string(Outcome o);  // "SUCCESS", "NO_BOOTSTRAP_CONFIG", ...

// Why a client may not bootstrap, and the outcome that records it.
struct Refusal {
  Refusal(std::string why, Outcome o = Outcome::Unauthorized)  // NOLINT: a reason alone is one
      : reason(std::move(why)), outcome(o) {}
  std::string reason;
  Outcome outcome;
};

// How a request failed without an answer.
enum class Failure {
  Timeout,    // no answer after the transport's retransmissions
  SendError,  // the transport could not send it
};

// What the client answered to a Bootstrap-Read or -Discover.
struct ReadAnswer {
  std::string op;  // "read" or "discover"
  std::string path;
  lwm2m::Code code = lwm2m::Code::Content;
  std::optional<uint16_t> content_format;
  lwm2m::Bytes payload;
};

// The latest session of one endpoint.
struct EndpointResult {
  std::string endpoint;
  PeerId peer = 0;
  lwm2m::Profile profile = lwm2m::Profile::V1_0;
  uint16_t content_format = 0;     // of the session's Writes (pct or the entry's)
  std::optional<Outcome> outcome;  // nullopt while the session runs
  std::string reason;              // why it failed, for people
  TimeMs started_ms = 0, ended_ms = 0;
  // "request", "session", "tx", "rx", "command_failed", "failure",
  // "rejected", "outcome".
  std::vector<Event> events;
  std::vector<ReadAnswer> reads;  // in the order the session sent them
  int sessions = 0;               // all sessions of this endpoint, this one included
  // Of all sessions of this endpoint: those that began less than
  // kBackToBackMs after the previous one ended (or while it ran), and
  // Request Bootstraps refused with 5.03 because they came too fast.
  int back_to_back = 0;
  int throttled = 0;
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
  // How long a result outlives its session's end, and an ended session
  // waits for take_log(): a flood below max_results must not leave its
  // results (and the memory under them) for good.
  TimeMs result_ttl_ms = 86400 * 1000;
  // How long the transport may hold a cancelled session's request (its
  // MAX_TRANSMIT_WAIT) before the peer's next session goes ahead anyway:
  // an exchange that ends unreported (an ACK with a garbled token) must
  // not block its peer for good.
  TimeMs max_orphan_ms = 93000;
};

struct BootstrapCounters {
  uint64_t results_evicted = 0;
  uint64_t results_expired = 0;  // older than result_ttl_ms
  uint64_t endpoint_events_evicted = 0;
  uint64_t events_evicted = 0;
};

// What a server log prints, handed out once (BootstrapServerCore::take_log).
struct ServerLog {
  std::vector<EndpointResult> sessions;  // ended since the last take, without events
  std::vector<Event> notices;            // events() entries since the last take
  size_t dropped = 0;                    // ended sessions lost because nobody took them in time
};

class BootstrapServerCore {
 public:
  struct Outgoing {
    uint64_t request_id;
    PeerId peer;
    std::string endpoint;
    lwm2m::Request request;
  };

  // A session starting within this long after its endpoint's previous one
  // ended is back-to-back.
  static constexpr TimeMs kBackToBackMs = 1000;
  // Each endpoint may start kSessionBurst sessions at once, then one per
  // kSessionRefillMs; a faster client's Request Bootstrap gets 5.03.
  static constexpr int kSessionBurst = 5;
  static constexpr TimeMs kSessionRefillMs = 1000;
  // At most kNoticesPerSecond notices per second reach events(); the rest
  // are counted in one "suppressed" notice.
  static constexpr int kNoticesPerSecond = 20;
  // Ended sessions kept for take_log().
  static constexpr size_t kLogCapacity = 4096;

  // `default_profile`: for entries without one; nullopt: by the request.
  BootstrapServerCore(BootstrapConfig config, std::optional<lwm2m::Profile> default_profile,
                      BootstrapLimits limits = {});

  // Request Bootstrap (POST /bs?ep=...). Answer it before sending what
  // poll_request() then returns: clients expect 2.04 first.
  lwm2m::Response on_request(TimeMs now, PeerId peer, const lwm2m::Request& req);
  // Server-initiated bootstrap (1.0): the same commands, no request.
  // Fails (kInvalidArgument), with outcome NO_BOOTSTRAP_CONFIG, when no
  // entry matches.
  Status start_session(TimeMs now, PeerId peer, const std::string& endpoint);
  // The peer a server-initiated session reaches `endpoint` at: that of its
  // last session here. An error says why there is none (never came, a
  // session running, its last client was refused).
  Result<PeerId> last_peer(const std::string& endpoint) const;

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
  // Requests that name no endpoint, so belong to no result, unknown DTLS
  // identities, throttled endpoints: rate-limited (kNoticesPerSecond) and
  // capped (limits().max_events, oldest first).
  std::vector<Event> events() const { return events_.snapshot(); }
  // Sessions ended and notices since the last call: for a log that must
  // not miss one, without copying results() each time.
  ServerLog take_log(TimeMs now);
  BootstrapCounters counters() const;
  const BootstrapLimits& limits() const { return limits_; }

  // When the oldest ended result, or ended session take_log() has not
  // handed out, reaches limits().result_ttl_ms; nullopt: none has ended.
  std::optional<TimeMs> next_deadline() const;
  // Removes the results whose session ended result_ttl_ms ago or more
  // (results_expired; the endpoint's session budget goes too), and the
  // ended sessions as old that take_log() has not handed out (its
  // `dropped`). Returns how many entries went, for a heap trim.
  size_t on_timeout(TimeMs now);

  // Called whenever a session ends, with its final result.
  std::function<void(const EndpointResult&)> on_outcome;
  // Optional: why `peer` may not act as `endpoint`, or nullopt when it may.
  // A refused Request Bootstrap gets 4.00 and the refusal's outcome.
  std::function<std::optional<Refusal>(PeerId, const std::string& endpoint)> authorize;
  // A client refused before or outside a request (a failed DTLS handshake):
  // `outcome` for `endpoint` if known and idle, else a "rejected" event.
  void refuse(TimeMs now, PeerId peer, const std::string& endpoint, const std::string& reason,
              Outcome outcome = Outcome::Unauthorized);

 private:
  struct Session {
    PeerId peer;
    std::vector<lwm2m::Request> commands;  // Finish last, when sent
    std::set<size_t> optional;             // indexes into commands
    bool sends_finish = false;
    size_t next = 0;
    std::optional<uint64_t> in_flight;
  };
  // Per endpoint: its session budget (kSessionBurst) and last end.
  struct Pace {
    double tokens = kSessionBurst;
    TimeMs refilled_ms = -1, ended_ms = -1;  // -1: never
  };

  EndpointResult& begin_result(TimeMs now, PeerId peer, const std::string& ep);
  void start(TimeMs now, PeerId peer, const std::string& ep, const EndpointConfig& cfg,
             const lwm2m::Request* req);
  lwm2m::Profile profile_for(const EndpointConfig& cfg, const lwm2m::Request* req) const;
  bool admit(TimeMs now, const std::string& ep);
  void notice(TimeMs now, const char* kind, std::string detail);
  void roll_notice_window(TimeMs now);
  void cancel_conflicting(TimeMs now, PeerId peer, const std::string& ep,
                          const std::string& reason);
  void end(TimeMs now, const std::string& ep, Outcome outcome, const std::string& reason);
  void note(TimeMs now, const std::string& ep, const char* kind, std::string detail);
  void evict_ended();
  void erase_oldest_ended();
  void release_orphan(uint64_t request_id);
  void release_stale_orphans(TimeMs now);

  BootstrapConfig config_;
  std::optional<lwm2m::Profile> default_profile_;
  BootstrapLimits limits_;
  BootstrapCounters counters_;
  std::map<std::string, EndpointResult> results_;
  std::map<std::string, Pace> pace_;
  // Endpoints whose session has ended, oldest first: the eviction order.
  std::list<std::string> ended_;
  std::map<std::string, std::list<std::string>::iterator> ended_at_;
  EventLog events_;
  uint64_t events_logged_ = 0;            // the number of the next notice take_log() hands out
  std::deque<EndpointResult> log_ended_;  // ended sessions take_log() has not handed out
  size_t log_dropped_ = 0;
  TimeMs notice_second_ = -1;  // now / 1000 of the current notice window
  int notices_in_window_ = 0, notices_suppressed_ = 0;
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
