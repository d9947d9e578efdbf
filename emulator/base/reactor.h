// An event loop as the layers below the runtime see it: timers, plus
// callbacks when a descriptor becomes readable (the radio's sockets).
#pragma once

#include <functional>

#include "emulator/base/timers.h"

namespace hil {

class Reactor : public Timers {
 public:
  // Calls `on_readable` whenever `fd` is readable (level-triggered).
  virtual void watch(int fd, std::function<void()> on_readable) = 0;
  virtual void unwatch(int fd) = 0;
};

}  // namespace hil
