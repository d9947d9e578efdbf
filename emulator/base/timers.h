// Timers on the owner's event loop, on the owner's clock. Devices and
// servers ask for callbacks through this interface, so the real-time loop
// and a virtual-time one can serve them alike.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "emulator/base/clock.h"

namespace hil {

class Timers {
 public:
  using Id = uint64_t;  // 0 is never a timer
  virtual ~Timers() = default;
  virtual Id at(TimeMs when, std::function<void()> fn) = 0;
  virtual void cancel(Id id) = 0;
  virtual const Clock& clock() const = 0;
};

// One timer held at a deadline that moves, such as a sans-I/O core's
// next_deadline(): setting the instant it already holds costs nothing, so
// an owner may set it after every event. `fire` runs once per instant
// reached; the timer is then disarmed until set again. Cancelled when
// destroyed.
class DeadlineTimer {
 public:
  DeadlineTimer(Timers& timers, std::function<void()> fire)
      : timers_(timers), fire_(std::move(fire)) {}
  ~DeadlineTimer() { timers_.cancel(id_); }
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // nullopt disarms.
  void set(std::optional<TimeMs> at) {
    if (at == at_) return;
    timers_.cancel(id_);
    id_ = 0;
    at_ = at;
    if (!at) return;
    id_ = timers_.at(*at, [this] {
      id_ = 0;
      at_.reset();
      fire_();
    });
  }

 private:
  Timers& timers_;
  std::function<void()> fire_;
  Timers::Id id_ = 0;
  std::optional<TimeMs> at_;
};

}  // namespace hil
