// The one notion of time every layer shares. The runtime provides the real
// clock and, later, a virtual one; nothing below the runtime reads the wall
// clock itself, so a simulation can replace it without touching them.
#pragma once

#include <chrono>
#include <cstdint>

namespace hil {

// Milliseconds since the clock's origin. Plain integers keep the client core
// free of <chrono> arithmetic in firmware and make literal times in tests easy.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
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

}  // namespace hil
