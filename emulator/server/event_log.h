// A server's timeline with a cap: the oldest events go first, and how many
// went is counted, so a flood of bad requests costs bounded memory and a
// reader can tell the log was cut.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "emulator/base/event.h"

namespace hil::server {

class EventLog {
 public:
  explicit EventLog(size_t max_events) : max_(max_events) {}

  void push(Event e) {
    if (max_ == 0) {
      ++evicted_;
      return;
    }
    if (events_.size() == max_) {
      events_.pop_front();
      ++evicted_;
    }
    events_.push_back(std::move(e));
  }
  std::vector<Event> snapshot() const { return {events_.begin(), events_.end()}; }
  // Events numbered from 0 since the log began: those from `first` on that
  // are still here, and the number the next event will get. A follower
  // passes back that number and misses only what the cap evicted.
  std::pair<uint64_t, std::vector<Event>> since(uint64_t first) const {
    const uint64_t skip = first > evicted_ ? first - evicted_ : 0;
    auto from =
        events_.begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(skip, events_.size()));
    return {evicted_ + events_.size(), {from, events_.end()}};
  }
  const Event& back() const { return events_.back(); }
  bool empty() const { return events_.empty(); }
  uint64_t evicted() const { return evicted_; }

 private:
  size_t max_;
  std::deque<Event> events_;
  uint64_t evicted_ = 0;
};

// The same rule for a plain vector (a bootstrap result's events): true
// when the oldest event made room for `e`.
inline bool push_bounded(std::vector<Event>& events, Event e, size_t max_events) {
  if (max_events == 0) return true;
  const bool evicted = events.size() >= max_events;
  if (evicted) events.erase(events.begin(), events.begin() + (events.size() - max_events + 1));
  events.push_back(std::move(e));
  return evicted;
}

}  // namespace hil::server
