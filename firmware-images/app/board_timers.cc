#include "board_timers.h"

#include "board.h"

namespace fw {

hil::Timers::Id BoardTimers::at(hil::TimeMs when, std::function<void()> fn) {
  timers_[++last_] = Timer{when, std::move(fn)};
  return last_;
}

void BoardTimers::cancel(Id id) { timers_.erase(id); }

hil::TimeMs BoardTimers::now_ms() const { return static_cast<hil::TimeMs>(board_now_ms()); }

std::map<hil::Timers::Id, BoardTimers::Timer>::iterator BoardTimers::earliest() {
  auto first = timers_.begin();
  for (auto it = timers_.begin(); it != timers_.end(); ++it)
    if (it->second.when < first->second.when) first = it;
  return first;
}

void BoardTimers::run_due() {
  for (;;) {
    auto it = earliest();
    if (it == timers_.end() || it->second.when > now_ms()) return;
    std::function<void()> fn = std::move(it->second.fn);
    timers_.erase(it);
    fn();
  }
}

hil::TimeMs BoardTimers::next(hil::TimeMs otherwise) const {
  hil::TimeMs at = otherwise;
  for (const auto& [id, t] : timers_) at = t.when < at ? t.when : at;
  return at;
}

}  // namespace fw
