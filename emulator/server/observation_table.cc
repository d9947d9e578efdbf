#include "emulator/server/observation_table.h"

#include <algorithm>

namespace hil::server {
namespace {

// Plain text as it is (cut short); any other content by its size.
std::string shown(const Observation& o) {
  constexpr size_t kMax = 64;
  if (o.content_format.value_or(lwm2m::format::kText) == lwm2m::format::kText) {
    std::string text(o.payload.begin(), o.payload.begin() + std::min(o.payload.size(), kMax));
    const bool printable =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (printable) return text + (o.payload.size() > kMax ? "..." : "");
  }
  return std::to_string(o.payload.size()) + " bytes of format " +
         std::to_string(o.content_format.value_or(0));
}

}  // namespace

bool fresher(uint32_t v1, TimeMs t1, uint32_t v2, TimeMs t2) {
  constexpr uint32_t kHalf = 1u << 23;
  return (v1 < v2 && v2 - v1 < kHalf) || (v1 > v2 && v1 - v2 > kHalf) || t2 > t1 + 128'000;
}

void ObservationTable::start(TimeMs now, Observation o) {
  o.updated_ms = now;
  const uint64_t tag = o.tag;
  by_tag_[tag] = std::move(o);
}

const Observation* ObservationTable::live(const std::string& endpoint,
                                          const std::string& path) const {
  for (const auto& [tag, o] : by_tag_)
    if (o.endpoint == endpoint && o.path == path && (o.state == "pending" || o.state == "active"))
      return &o;
  return nullptr;
}

const Observation* ObservationTable::find(uint64_t tag) const {
  auto it = by_tag_.find(tag);
  return it == by_tag_.end() ? nullptr : &it->second;
}

std::vector<Observation> ObservationTable::all() const {
  std::vector<Observation> out;
  for (const auto& [tag, o] : by_tag_) out.push_back(o);
  return out;
}

std::optional<Event> ObservationTable::on_response(TimeMs now, uint64_t tag,
                                                   const lwm2m::Response& r) {
  auto it = by_tag_.find(tag);
  if (it == by_tag_.end()) return std::nullopt;
  Observation& o = it->second;
  const bool answer = o.state == "pending";
  if (!answer && o.state != "active") return std::nullopt;
  if (!r.observe) {
    // An answer without Observe refuses the observation; a notification
    // without it (an error) is the last one (RFC 7641, 3.2 and 4.2).
    o.code = r.code;
    return end(now, o, answer ? "refused" : "ended",
               "answered " + lwm2m::to_string(r.code) + " without Observe");
  }
  if (!answer && o.observe && !fresher(*o.observe, o.updated_ms, *r.observe, now)) {
    ++o.stale;
    return std::nullopt;
  }
  if (!answer) ++o.notifications;
  o.state = "active";
  o.code = r.code;
  o.observe = r.observe;
  o.content_format = r.content_format;
  o.payload = r.payload;
  o.updated_ms = now;
  return Event{now, answer ? "observe" : "notify",
               describe(o) + " observe=" + std::to_string(*r.observe) + " " +
                   lwm2m::to_string(r.code) + ": " + shown(o)};
}

std::optional<Event> ObservationTable::on_failure(TimeMs now, uint64_t tag,
                                                  const std::string& reason) {
  auto it = by_tag_.find(tag);
  if (it == by_tag_.end() || (it->second.state != "pending" && it->second.state != "active"))
    return std::nullopt;
  return end(now, it->second, "failed", reason);
}

void ObservationTable::cancelling(uint64_t tag) {
  auto it = by_tag_.find(tag);
  if (it != by_tag_.end()) it->second.state = "cancelling";
}

std::optional<Event> ObservationTable::cancelled(TimeMs now, uint64_t tag,
                                                 const std::string& answer) {
  auto it = by_tag_.find(tag);
  if (it == by_tag_.end() || it->second.state != "cancelling") return std::nullopt;
  return end(now, it->second, "cancelled", answer);
}

std::vector<uint64_t> ObservationTable::end_endpoint(TimeMs now, const std::string& endpoint,
                                                     const std::string& why,
                                                     std::vector<Event>& events) {
  std::vector<uint64_t> tags;
  for (auto& [tag, o] : by_tag_)
    if (o.endpoint == endpoint && (o.state == "pending" || o.state == "active"))
      tags.push_back(tag);
  // end() may evict entries: look each one up again.
  for (uint64_t tag : tags) events.push_back(end(now, by_tag_.at(tag), "ended", why));
  return tags;
}

Event ObservationTable::end(TimeMs now, Observation& o, const char* state, std::string reason) {
  o.state = state;
  o.reason = std::move(reason);
  o.updated_ms = now;
  Event e{now, "observe_ended", describe(o) + " " + state + ": " + o.reason};
  // Ended observations stay readable for a while; a long run must not
  // keep every one.
  ended_.push_back(o.tag);
  while (ended_.size() > max_ended_) {
    by_tag_.erase(ended_.front());
    ended_.erase(ended_.begin());
  }
  return e;
}

std::string ObservationTable::describe(const Observation& o) const {
  return "ep=" + o.endpoint + " " + o.path;
}

}  // namespace hil::server
