// hil::Timers on the board's millisecond clock, run from the main loop:
// the driver's timers (the core's deadline, the watchdogs, the linger) and
// the image's own. No interrupts involved: run_due() runs them on the
// loop's turn, and next() tells the loop how long it may sleep.
#pragma once

#include <functional>
#include <map>

#include "emulator/base/timers.h"

namespace fw {

class BoardTimers final : public hil::Timers, private hil::Clock {
 public:
  Id at(hil::TimeMs when, std::function<void()> fn) override;
  void cancel(Id id) override;
  const hil::Clock& clock() const override { return *this; }

  // Runs every timer due by now, earliest first (a timer may set others).
  void run_due();
  // When the earliest timer is due; `otherwise` without timers.
  hil::TimeMs next(hil::TimeMs otherwise) const;

 private:
  struct Timer {
    hil::TimeMs when;
    std::function<void()> fn;
  };
  hil::TimeMs now_ms() const override;
  std::map<Id, Timer>::iterator earliest();

  std::map<Id, Timer> timers_;
  Id last_ = 0;
};

}  // namespace fw
