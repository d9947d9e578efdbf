// The one notion of time every layer shares: the real clock, or a virtual
// one that moves only when the simulation moves it. Nothing below the
// runtime reads the wall clock itself, so a simulation can replace it
// without touching them.
#pragma once

#include <chrono>
#include <cstdint>

namespace hil {

// Milliseconds since the clock's origin. Plain integers keep the client core
// free of <chrono> arithmetic in firmware and make literal times in tests easy.
using TimeMs = int64_t;

// The wall-clock second a virtual clock's origin stands for
// (2020-01-01T00:00:00Z), wherever virtual time shows as calendar time:
// capture timestamps and the time() mbedTLS writes into DTLS hellos and
// cookies. A fixed value, so that a seed gives the same bytes in every
// process and on every machine.
constexpr int64_t kVirtualEpochS = 1577836800;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
  // Virtual time: what happens depends on the seed alone, never on the wall
  // clock (captures, for one, then carry a fixed epoch).
  virtual bool is_virtual() const { return false; }
};

// Monotonic wall-clock time, origin at construction.
class RealClock final : public Clock {
 public:
  RealClock() : origin_(std::chrono::steady_clock::now()) {}
  TimeMs now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 origin_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point origin_;
};

// Simulated time, origin 0: moves only when its owner (the runtime's
// virtual-time loop) moves it, from one deadline to the next.
class VirtualClock final : public Clock {
 public:
  TimeMs now_ms() const override { return now_ms_; }
  bool is_virtual() const override { return true; }
  void advance_to(TimeMs t) {
    if (t > now_ms_) now_ms_ = t;
  }

 private:
  TimeMs now_ms_ = 0;
};

}  // namespace hil
