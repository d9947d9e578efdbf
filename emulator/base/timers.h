// Timers on the owner's event loop, on the owner's clock. Devices and
// servers ask for callbacks through this interface, so the real-time loop
// and a virtual-time one can serve them alike.
#pragma once

#include <cstdint>
#include <functional>

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

}  // namespace hil
