// A server's observations of its registered clients (RFC 7641, LwM2M 1.0
// Observe / Notify), sans-I/O: what was observed, the answer, each
// notification, and how it ended. The transport sends and receives; this
// decides what a message means and what the event log says about it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/event.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/server/peer.h"

namespace hil::server {

struct Observation {
  uint64_t tag = 0;  // the transport's name for its exchange
  std::string endpoint, path;
  PeerId peer = 0;
  std::optional<uint16_t> accept{};
  // "pending" (no answer yet), "active", "cancelling", "cancelled" (the
  // client answered Observe=1), "refused" (an answer without Observe),
  // "ended" (a final error notification), "failed" (no answer, a reset).
  std::string state = "pending";
  std::string reason{};                     // why it is not active, for people
  lwm2m::Code code = lwm2m::Code::Content;  // of the answer, then of the last notification
  std::optional<uint32_t> observe{};        // the freshest Observe value
  uint64_t notifications = 0;               // after the answer, stale ones not counted
  uint64_t stale = 0;                       // older than one already seen (RFC 7641, 3.4)
  std::optional<uint16_t> content_format{};
  lwm2m::Bytes payload{};  // the freshest content
  TimeMs updated_ms = 0;
};

class ObservationTable {
 public:
  explicit ObservationTable(size_t max_ended = 1000) : max_ended_(max_ended) {}

  void start(TimeMs now, Observation o);
  // The observation of `path` on `endpoint` that is pending or active.
  const Observation* live(const std::string& endpoint, const std::string& path) const;
  const Observation* find(uint64_t tag) const;
  std::vector<Observation> all() const;

  // An answer or a notification on `tag`; the event to log, if it means
  // anything (a stale notification is counted, not logged).
  std::optional<Event> on_response(TimeMs now, uint64_t tag, const lwm2m::Response& r);
  std::optional<Event> on_failure(TimeMs now, uint64_t tag, const std::string& reason);
  // A cancel (GET with Observe=1) is under way; its answer comes to `tag`.
  void cancelling(uint64_t tag);
  std::optional<Event> cancelled(TimeMs now, uint64_t tag, const std::string& answer);
  // The registration of `endpoint` ended or was replaced: so did its
  // observations (LwM2M 1.0, 5.5). The tags of those that were live.
  std::vector<uint64_t> end_endpoint(TimeMs now, const std::string& endpoint,
                                     const std::string& why, std::vector<Event>& events);

 private:
  Event end(TimeMs now, Observation& o, const char* state, std::string reason);
  std::string describe(const Observation& o) const;

  size_t max_ended_;
  std::map<uint64_t, Observation> by_tag_;
  std::vector<uint64_t> ended_;  // oldest first; beyond max_ended_ they go
};

// RFC 7641, 3.4: whether Observe value `v2`, received at `t2`, is fresher
// than `v1`, received at `t1` (24-bit values that wrap).
bool fresher(uint32_t v1, TimeMs t1, uint32_t v2, TimeMs t2);

}  // namespace hil::server
