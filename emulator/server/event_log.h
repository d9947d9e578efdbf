// A server's timeline with a cap: the oldest events go first, and how many
// went is counted, so a flood of bad requests costs bounded memory and a
// reader can tell the log was cut.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
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
    if (size_ == max_) pop_front();
    if (size_ == ring_.size()) grow();
    ring_[(head_ + size_) % ring_.size()] = {e.time_ms, e.kind, text_end_, e.detail.size()};
    ++size_;
    write(e.detail);
  }
  std::vector<Event> snapshot() const { return copy(0); }
  // Events numbered from 0 since the log began: those from `first` on that
  // are still here, and the number the next event will get. A follower
  // passes back that number and misses only what the cap evicted.
  std::pair<uint64_t, std::vector<Event>> since(uint64_t first) const {
    const uint64_t skip = first > evicted_ ? first - evicted_ : 0;
    return {evicted_ + size_, copy(static_cast<size_t>(std::min<uint64_t>(skip, size_)))};
  }
  bool empty() const { return size_ == 0; }
  uint64_t evicted() const { return evicted_; }

 private:
  // A log outlives the floods that fill it, so it keeps its events in a
  // few large blocks, not in two small allocations per event scattered
  // over the heap the flood used: each of those would keep a page of it
  // from going back to the OS (heap_trim.h). Entries sit in one ring,
  // their details in a stream of kBlock-byte blocks freed oldest first.
  struct Entry {
    TimeMs time_ms = 0;
    EventKind kind;
    uint64_t text = 0;  // where the detail starts in the stream
    size_t size = 0;
  };
  static constexpr size_t kBlock = 64 * 1024;

  void grow() {
    std::vector<Entry> ring(std::min(max_, std::max<size_t>(16, 2 * ring_.size())));
    for (size_t i = 0; i < size_; ++i) ring[i] = ring_[(head_ + i) % ring_.size()];
    ring_ = std::move(ring);
    head_ = 0;
  }
  void pop_front() {
    head_ = (head_ + 1) % ring_.size();
    --size_;
    ++evicted_;
    const uint64_t used_from = size_ > 0 ? ring_[head_].text : text_end_;
    while (!blocks_.empty() && (first_block_ + 1) * kBlock <= used_from) {
      blocks_.pop_front();
      ++first_block_;
    }
  }
  void write(const std::string& text) {
    for (size_t done = 0; done < text.size();) {
      if (text_end_ == (first_block_ + blocks_.size()) * kBlock)
        blocks_.push_back(std::make_unique<char[]>(kBlock));
      const size_t at = text_end_ % kBlock;
      const size_t n = std::min(text.size() - done, kBlock - at);
      std::copy_n(text.data() + done, n, blocks_.back().get() + at);
      done += n;
      text_end_ += n;
    }
  }
  std::string read(const Entry& e) const {
    std::string out;
    out.reserve(e.size);
    for (uint64_t at = e.text; at < e.text + e.size;) {
      const size_t offset = at % kBlock;
      const size_t n = std::min<uint64_t>(e.text + e.size - at, kBlock - offset);
      out.append(blocks_[at / kBlock - first_block_].get() + offset, n);
      at += n;
    }
    return out;
  }
  std::vector<Event> copy(size_t from) const {
    std::vector<Event> out;
    out.reserve(size_ - from);
    for (size_t i = from; i < size_; ++i) {
      const Entry& e = ring_[(head_ + i) % ring_.size()];
      out.push_back({e.time_ms, e.kind, read(e)});
    }
    return out;
  }

  size_t max_;
  std::vector<Entry> ring_;
  size_t head_ = 0, size_ = 0;
  std::deque<std::unique_ptr<char[]>> blocks_;
  uint64_t first_block_ = 0;  // the stream's block that blocks_.front() holds
  uint64_t text_end_ = 0;
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
