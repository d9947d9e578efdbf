// One entry of a device's or a server's timeline. Kinds are short stable
// names shared with Python and the docs ("state", "bootstrap_exit", "tx",
// "rx", "commit", ...); the detail is for people.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <string_view>

#include "emulator/base/clock.h"

namespace hil {

// An event's kind, interned: a fleet keeps millions of events and a few
// dozen kinds, so each event holds a pointer, not a string of its own.
class EventKind {
 public:
  EventKind() : EventKind("") {}
  EventKind(const char* name) : name_(intern(name)) {}         // NOLINT: implicit by design
  EventKind(const std::string& name) : name_(intern(name)) {}  // NOLINT
  operator const std::string&() const { return *name_; }       // NOLINT
  const std::string& str() const { return *name_; }
  const char* c_str() const { return name_->c_str(); }
  bool empty() const { return name_->empty(); }
  size_t size() const { return name_->size(); }

  friend bool operator==(const EventKind& a, const EventKind& b) { return *a.name_ == *b.name_; }
  friend bool operator==(const EventKind& a, const char* b) { return *a.name_ == b; }
  friend bool operator==(const char* a, const EventKind& b) { return b == a; }
  friend bool operator==(const EventKind& a, const std::string& b) { return *a.name_ == b; }
  friend bool operator!=(const EventKind& a, const EventKind& b) { return !(a == b); }
  friend bool operator!=(const EventKind& a, const char* b) { return !(a == b); }
  friend std::string operator+(const EventKind& a, const std::string& b) { return *a.name_ + b; }
  friend std::string operator+(const std::string& a, const EventKind& b) { return a + *b.name_; }
  friend std::string operator+(const EventKind& a, const char* b) { return *a.name_ + b; }
  friend std::string operator+(const char* a, const EventKind& b) { return a + *b.name_; }

 private:
  // The set is never freed: events may outlive static destruction. A
  // spinlock, not a mutex: the same header builds for firmware.
  static const std::string* intern(std::string_view name) {
    static std::atomic_flag busy = ATOMIC_FLAG_INIT;
    static auto* names = new std::set<std::string, std::less<>>;
    while (busy.test_and_set(std::memory_order_acquire)) {
    }
    auto it = names->find(name);
    if (it == names->end()) it = names->emplace(name).first;
    busy.clear(std::memory_order_release);
    return &*it;
  }

  const std::string* name_;
};

struct Event {
  TimeMs time_ms = 0;
  EventKind kind;
  std::string detail;
};

}  // namespace hil
