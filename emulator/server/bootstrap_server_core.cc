#include "emulator/server/bootstrap_server_core.h"

#include <algorithm>
#include <utility>

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;

// The request line, with what a bootstrap log needs of its content.
std::string describe(const lw::Request& r) {
  std::string s = lw::to_string(r);
  if (r.accept) s += " (accept " + std::to_string(*r.accept) + ")";
  if (!r.payload.empty()) {
    s += " (" + std::to_string(r.content_format.value_or(0)) + ", " +
         std::to_string(r.payload.size()) + " bytes)";
  }
  return s;
}

lw::Response answer(lw::Code code) {
  lw::Response r;
  r.code = code;
  return r;
}

bool is_discover(const lw::Request& r) {
  return r.method == lw::Method::Get && r.accept == lw::format::kLinkFormat;
}

Outcome rejected(const lw::Request& r) {
  switch (r.method) {
    case lw::Method::Delete:
      return Outcome::DeleteRejected;
    case lw::Method::Get:
      return is_discover(r) ? Outcome::DiscoverRejected : Outcome::ReadRejected;
    default:
      return Outcome::WriteRejected;
  }
}

std::optional<uint16_t> pct_of(const lw::Request* req) {
  if (req == nullptr) return std::nullopt;
  const std::optional<std::string> pct = req->query_param("pct");
  if (!pct || pct->empty() || pct->size() > 5 ||
      pct->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const unsigned long v = std::stoul(*pct);
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::Success:
      return "SUCCESS";
    case Outcome::NoBootstrapConfig:
      return "NO_BOOTSTRAP_CONFIG";
    case Outcome::Unauthorized:
      return "UNAUTHORIZED";
    case Outcome::RequestFailed:
      return "REQUEST_FAILED";
    case Outcome::FinishFailed:
      return "FINISH_FAILED";
    case Outcome::Timeout:
      return "TIMEOUT";
    case Outcome::Cancelled:
      return "CANCELLED";
    case Outcome::WriteRejected:
      return "WRITE_REJECTED";
    case Outcome::DeleteRejected:
      return "DELETE_REJECTED";
    case Outcome::ReadRejected:
      return "READ_REJECTED";
    case Outcome::DiscoverRejected:
      return "DISCOVER_REJECTED";
    case Outcome::CertUntrusted:
      return "CERT_UNTRUSTED";
    case Outcome::CertExpired:
      return "CERT_EXPIRED";
    case Outcome::CertNameMismatch:
      return "CERT_NAME_MISMATCH";
  }
  return "?";
}

BootstrapServerCore::BootstrapServerCore(BootstrapConfig config,
                                         std::optional<lw::Profile> default_profile,
                                         BootstrapLimits limits)
    : config_(std::move(config)),
      default_profile_(default_profile),
      limits_(limits),
      events_(limits.max_events) {}

BootstrapCounters BootstrapServerCore::counters() const {
  BootstrapCounters c = counters_;
  c.events_evicted = events_.evicted();
  return c;
}

lw::Response BootstrapServerCore::on_request(TimeMs now, PeerId peer, const lw::Request& req) {
  if (req.path != std::vector<std::string>{"bs"}) {
    notice(now, "rejected", describe(req) + ": 4.04, not /bs");
    return answer(lw::Code::NotFound);
  }
  if (req.method != lw::Method::Post) {
    notice(now, "rejected", describe(req) + ": 4.05, /bs takes POST");
    return answer(lw::Code::MethodNotAllowed);
  }
  const std::string ep = req.query_param("ep").value_or("");
  if (ep.empty()) {
    notice(now, "rejected", describe(req) + ": 4.00, no endpoint name");
    return answer(lw::Code::BadRequest);
  }
  const Pace& pace = pace_[ep];
  const bool back_to_back =
      sessions_.count(ep) > 0 || (pace.ended_ms >= 0 && now - pace.ended_ms < kBackToBackMs);
  if (!admit(now, ep)) {
    EndpointResult& r = results_[ep];
    r.endpoint = ep;
    ++r.throttled;
    notice(now, "throttled",
           ep + ": Request Bootstrap answered 5.03, more than " + std::to_string(kSessionBurst) +
               " sessions back to back (" + std::to_string(r.throttled) + " refused so far)");
    return answer(lw::Code::Unavailable);
  }
  if (authorize) {
    if (std::optional<Refusal> why = authorize(peer, ep)) {
      refuse(now, peer, ep, describe(req) + ": " + why->reason, why->outcome);
      return answer(lw::Code::BadRequest);
    }
  }
  cancel_conflicting(now, peer, ep, "replaced by a new Request Bootstrap");
  EndpointResult& result = begin_result(now, peer, ep);
  if (back_to_back) ++result.back_to_back;
  note(now, ep, "request", describe(req));
  const EndpointConfig* cfg = config_.find(ep);
  if (cfg == nullptr) {
    end(now, ep, Outcome::NoBootstrapConfig, "no configuration entry matches " + ep);
    return answer(lw::Code::BadRequest);
  }
  start(now, peer, ep, *cfg, &req);
  return answer(lw::Code::Changed);
}

Status BootstrapServerCore::start_session(TimeMs now, PeerId peer, const std::string& endpoint) {
  cancel_conflicting(now, peer, endpoint, "replaced by a server-initiated bootstrap");
  begin_result(now, peer, endpoint);
  note(now, endpoint, "request", "server-initiated bootstrap");
  const EndpointConfig* cfg = config_.find(endpoint);
  if (cfg == nullptr) {
    const std::string why = "no configuration entry matches " + endpoint;
    end(now, endpoint, Outcome::NoBootstrapConfig, why);
    return Error{ErrorCode::kInvalidArgument, why};
  }
  start(now, peer, endpoint, *cfg, nullptr);
  return ok_status();
}

Result<PeerId> BootstrapServerCore::last_peer(const std::string& endpoint) const {
  const EndpointResult* r = result(endpoint);
  if (r == nullptr || r->peer == 0) {
    return Error{ErrorCode::kInvalidArgument,
                 "'" + endpoint +
                     "' has never come to this bootstrap server (or its result is older than "
                     "result_ttl, or was evicted beyond max_results): a server-initiated bootstrap "
                     "reaches a device at the address of its last session here"};
  }
  if (!r->outcome) {
    return Error{ErrorCode::kFailedPrecondition,
                 "'" + endpoint + "' has a bootstrap session running; wait for its outcome"};
  }
  if (*r->outcome == Outcome::Unauthorized) {
    return Error{ErrorCode::kFailedPrecondition,
                 "'" + endpoint +
                     "': its last client was refused (UNAUTHORIZED), so its address is not the "
                     "device's"};
  }
  return r->peer;
}

std::optional<BootstrapServerCore::Outgoing> BootstrapServerCore::poll_request(TimeMs now) {
  release_stale_orphans(now);
  while (!ready_.empty()) {
    const std::string ep = std::move(ready_.front());
    ready_.pop_front();
    auto it = sessions_.find(ep);
    // Entries outlive cancelled sessions; skip any that are stale. A
    // blocked peer's session is queued again when its orphan is released.
    if (it == sessions_.end() || it->second.in_flight ||
        it->second.next >= it->second.commands.size() || blocked_.count(it->second.peer)) {
      continue;
    }
    Session& s = it->second;
    const uint64_t id = next_request_id_++;
    s.in_flight = id;
    requests_[id] = ep;
    const lw::Request& req = s.commands[s.next++];
    EndpointResult& r = results_[ep];
    ++r.requests_sent;
    if (s.sends_finish && s.next == s.commands.size()) ++r.finish_sent;
    note(now, ep, "tx", describe(req));
    return Outgoing{id, s.peer, ep, req};
  }
  return std::nullopt;
}

void BootstrapServerCore::on_response(TimeMs now, uint64_t request_id, const lw::Response& resp) {
  auto req_it = requests_.find(request_id);
  if (req_it == requests_.end()) return release_orphan(request_id);  // its session has ended
  const std::string ep = req_it->second;
  requests_.erase(req_it);
  Session& s = sessions_.at(ep);
  s.in_flight.reset();
  const lw::Request& sent = s.commands[s.next - 1];
  const bool was_finish = s.sends_finish && s.next == s.commands.size();
  note(now, ep, "rx", lw::to_string(resp.code) + " for " + describe(sent));
  if (sent.method == lw::Method::Get) {
    results_[ep].reads.push_back({is_discover(sent) ? "discover" : "read", sent.uri_path(),
                                  resp.code, resp.content_format, resp.payload});
  }
  if (was_finish) {
    if (lw::is_success(resp.code)) {
      end(now, ep, Outcome::Success, "");
    } else {
      end(now, ep, Outcome::FinishFailed, "Finish answered " + lw::to_string(resp.code));
    }
    return;
  }
  if (!lw::is_success(resp.code)) {
    ++results_[ep].error_responses;
    const std::string what = describe(sent) + " answered " + lw::to_string(resp.code);
    if (!s.optional.count(s.next - 1)) {
      note(now, ep, "command_failed", what);
      end(now, ep, rejected(sent), what);
      return;
    }
    note(now, ep, "command_failed", what + "; optional, continuing");
  }
  if (s.next == s.commands.size()) {
    end(now, ep, Outcome::Success, "");
  } else {
    ready_.push_back(ep);
  }
}

void BootstrapServerCore::on_failure(TimeMs now, uint64_t request_id, Failure kind,
                                     const std::string& reason) {
  auto req_it = requests_.find(request_id);
  if (req_it == requests_.end()) return release_orphan(request_id);
  const std::string ep = req_it->second;
  requests_.erase(req_it);
  const Session& s = sessions_.at(ep);
  const std::string what = describe(s.commands[s.next - 1]) + ": " + reason;
  note(now, ep, "failure", what);
  end(now, ep, kind == Failure::Timeout ? Outcome::Timeout : Outcome::RequestFailed, what);
}

const EndpointResult* BootstrapServerCore::result(const std::string& endpoint) const {
  auto it = results_.find(endpoint);
  return it == results_.end() ? nullptr : &it->second;
}

void BootstrapServerCore::refuse(TimeMs now, PeerId peer, const std::string& ep,
                                 const std::string& reason, Outcome outcome) {
  if (ep.empty()) {
    notice(now, "rejected", reason);
  } else if (sessions_.count(ep) || results_.count(ep)) {
    // A refused client (an impostor, perhaps) must not disturb the
    // endpoint's running session, nor replace its last outcome.
    note(now, ep, "rejected", reason);
  } else {
    begin_result(now, peer, ep);
    end(now, ep, outcome, reason);
  }
}

EndpointResult& BootstrapServerCore::begin_result(TimeMs now, PeerId peer, const std::string& ep) {
  if (auto it = ended_at_.find(ep); it != ended_at_.end()) {  // running again: not evictable
    ended_.erase(it->second);
    ended_at_.erase(it);
  }
  EndpointResult& r = results_[ep];
  EndpointResult fresh;
  fresh.endpoint = ep;
  fresh.peer = peer;
  fresh.profile = default_profile_.value_or(lw::Profile::V1_0);
  fresh.started_ms = now;
  fresh.sessions = r.sessions + 1;
  fresh.back_to_back = r.back_to_back;
  fresh.throttled = r.throttled;
  r = std::move(fresh);
  return r;
}

lw::Profile BootstrapServerCore::profile_for(const EndpointConfig& cfg,
                                             const lw::Request* req) const {
  if (cfg.profile) return *cfg.profile;
  if (default_profile_) return *default_profile_;
  // Nobody chose: serve the dialect the client speaks. Only a client that
  // asks for Finish speaks cr; the others would wait for a Finish forever.
  if (req != nullptr && req->query_param("Finish") == "true") return lw::Profile::Cr;
  return req != nullptr && req->query_param("pct") ? lw::Profile::V1_1 : lw::Profile::V1_0;
}

void BootstrapServerCore::start(TimeMs now, PeerId peer, const std::string& ep,
                                const EndpointConfig& cfg, const lw::Request* req) {
  EndpointResult& r = results_[ep];
  r.profile = profile_for(cfg, req);
  const bool finish_requested = req != nullptr && req->query_param("Finish") == "true";
  const std::vector<lw::Request>* commands = &cfg.commands;
  r.content_format = cfg.content_format.value_or(lw::format::kTlv);
  if (const std::optional<uint16_t> pct = pct_of(req)) {
    auto alt = cfg.by_format.find(*pct);
    if (alt != cfg.by_format.end()) {
      commands = &alt->second;
      r.content_format = *pct;
    } else if (*pct != r.content_format) {
      note(now, ep, "format",
           "pct=" + std::to_string(*pct) + " not served (" +
               (cfg.content_format ? "the entry fixes content_format"
                                   : "TLV, SenML-JSON, SenML-CBOR only") +
               "); writing " + std::to_string(r.content_format));
    }
  }
  Session s{peer, *commands, cfg.optional, false, 0, std::nullopt};
  switch (cfg.finish) {
    case FinishPolicy::Always:
      s.sends_finish = true;
      break;
    case FinishPolicy::Never:
      break;
    case FinishPolicy::Auto:
      s.sends_finish = r.profile != lw::Profile::Cr || finish_requested;
      break;
  }
  if (s.sends_finish) {
    lw::Request finish;
    finish.method = lw::Method::Post;
    finish.path = {"bs"};
    s.commands.push_back(std::move(finish));
  }
  note(now, ep, "session",
       std::string("profile ") + lw::to_string(r.profile) + ", format " +
           std::to_string(r.content_format) + ", " + std::to_string(s.commands.size()) +
           " requests, " + (s.sends_finish ? "ends with Finish" : "no Finish"));
  if (s.commands.empty()) {
    end(now, ep, Outcome::Success, "");
    return;
  }
  peers_[peer] = ep;
  sessions_[ep] = std::move(s);
  ready_.push_back(ep);
}

void BootstrapServerCore::cancel_conflicting(TimeMs now, PeerId peer, const std::string& ep,
                                             const std::string& reason) {
  // One session per endpoint, and per peer: that keeps one request in
  // flight per peer.
  auto by_peer = peers_.find(peer);
  const std::string peer_ep = by_peer == peers_.end() ? ep : by_peer->second;
  for (const std::string& old : {ep, peer_ep}) {
    if (sessions_.count(old)) end(now, old, Outcome::Cancelled, reason);
  }
}

void BootstrapServerCore::end(TimeMs now, const std::string& ep, Outcome outcome,
                              const std::string& reason) {
  auto it = sessions_.find(ep);
  if (it != sessions_.end()) {
    // Still in the transport's hands unless its exchange just ended.
    if (it->second.in_flight && requests_.erase(*it->second.in_flight)) {
      orphans_[*it->second.in_flight] = {it->second.peer, now};
      blocked_.insert(it->second.peer);
    }
    auto peer = peers_.find(it->second.peer);
    if (peer != peers_.end() && peer->second == ep) peers_.erase(peer);
    sessions_.erase(it);
  }
  EndpointResult& r = results_[ep];
  r.outcome = outcome;
  r.reason = reason;
  r.ended_ms = now;
  pace_[ep].ended_ms = now;
  note(now, ep, "outcome", std::string(to_string(outcome)) + (reason.empty() ? "" : ": " + reason));
  r.events.shrink_to_fit();  // an ended session's events stop growing; fleets keep thousands
  if (log_ended_.size() == kLogCapacity) {
    log_ended_.pop_front();
    ++log_dropped_;
  }
  // The log's copy goes without events, and without their buffer: 4096
  // of those would outlast a flood.
  std::vector<Event> events = std::move(r.events);
  log_ended_.push_back(r);
  r.events = std::move(events);
  if (auto at = ended_at_.find(ep); at != ended_at_.end()) ended_.erase(at->second);
  ended_at_[ep] = ended_.insert(ended_.end(), ep);
  if (on_outcome) on_outcome(r);
  evict_ended();
}

void BootstrapServerCore::release_orphan(uint64_t request_id) {
  auto it = orphans_.find(request_id);
  if (it == orphans_.end()) return;
  const PeerId peer = it->second.peer;
  orphans_.erase(it);
  blocked_.erase(peer);
  if (auto session = peers_.find(peer); session != peers_.end()) ready_.push_back(session->second);
}

void BootstrapServerCore::release_stale_orphans(TimeMs now) {
  while (!orphans_.empty() && orphans_.begin()->second.since + limits_.max_orphan_ms <= now)
    release_orphan(orphans_.begin()->first);
}

void BootstrapServerCore::evict_ended() {
  // The newest ended result stays even when max_results is 0: on_outcome
  // and its caller still look at it.
  while (results_.size() > limits_.max_results && ended_.size() > 1) {
    erase_oldest_ended();
    ++counters_.results_evicted;
  }
}

void BootstrapServerCore::erase_oldest_ended() {
  // Its pace goes with it, so that a flood of names leaves no state
  // behind (an endpoint evicted while throttled starts with a full budget).
  pace_.erase(ended_.front());
  results_.erase(ended_.front());
  ended_at_.erase(ended_.front());
  ended_.pop_front();
}

std::optional<TimeMs> BootstrapServerCore::next_deadline() const {
  // Both queues are in the order their sessions ended.
  std::optional<TimeMs> oldest;
  if (!ended_.empty()) oldest = results_.at(ended_.front()).ended_ms;
  if (!log_ended_.empty()) {
    oldest = std::min(oldest.value_or(log_ended_.front().ended_ms), log_ended_.front().ended_ms);
  }
  if (!oldest) return std::nullopt;
  return *oldest + limits_.result_ttl_ms;
}

size_t BootstrapServerCore::on_timeout(TimeMs now) {
  const TimeMs cutoff = now - limits_.result_ttl_ms;
  size_t gone = 0;
  for (; !ended_.empty() && results_.at(ended_.front()).ended_ms <= cutoff; ++gone) {
    erase_oldest_ended();
    ++counters_.results_expired;
  }
  for (; !log_ended_.empty() && log_ended_.front().ended_ms <= cutoff; ++gone) {
    log_ended_.pop_front();
    ++log_dropped_;
  }
  return gone;
}

bool BootstrapServerCore::admit(TimeMs now, const std::string& ep) {
  Pace& p = pace_[ep];
  if (p.refilled_ms < 0) p.refilled_ms = now;
  const double refill = static_cast<double>(now - p.refilled_ms) / kSessionRefillMs;
  p.tokens = std::min<double>(kSessionBurst, p.tokens + std::max(0.0, refill));
  p.refilled_ms = now;
  if (p.tokens < 1) return false;
  p.tokens -= 1;
  return true;
}

void BootstrapServerCore::notice(TimeMs now, const char* kind, std::string detail) {
  roll_notice_window(now);
  if (notices_in_window_ >= kNoticesPerSecond) {
    ++notices_suppressed_;
    return;
  }
  ++notices_in_window_;
  events_.push({now, kind, std::move(detail)});
}

void BootstrapServerCore::roll_notice_window(TimeMs now) {
  if (now / 1000 == notice_second_) return;
  if (notices_suppressed_ > 0) {
    // A flood leaves one line per second, not one per datagram.
    events_.push({now, "suppressed",
                  std::to_string(notices_suppressed_) +
                      " more notices (rejected or throttled requests) in the last second"});
  }
  notice_second_ = now / 1000;
  notices_in_window_ = 0;
  notices_suppressed_ = 0;
}

ServerLog BootstrapServerCore::take_log(TimeMs now) {
  roll_notice_window(now);
  ServerLog log;
  log.sessions.assign(std::make_move_iterator(log_ended_.begin()),
                      std::make_move_iterator(log_ended_.end()));
  log_ended_.clear();
  auto [next, notices] = events_.since(events_logged_);
  log.notices = std::move(notices);
  events_logged_ = next;
  log.dropped = log_dropped_;
  log_dropped_ = 0;
  return log;
}

void BootstrapServerCore::note(TimeMs now, const std::string& ep, const char* kind,
                               std::string detail) {
  EndpointResult& r = results_[ep];
  if (push_bounded(r.events, {now, kind, std::move(detail)}, limits_.max_endpoint_events)) {
    ++r.events_evicted;
    ++counters_.endpoint_events_evicted;
  }
}

}  // namespace hil::server
