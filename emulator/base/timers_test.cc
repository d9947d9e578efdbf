// DeadlineTimer: one timer at a moving deadline, re-set after every event
// without re-arming for the instant it already holds.
#include "emulator/base/timers.h"

#include <gtest/gtest.h>

#include <map>

namespace hil {
namespace {

struct FakeClock : Clock {
  TimeMs now_ms() const override { return now; }
  TimeMs now = 0;
};

// Timers that fire only when told, and count what they were asked.
struct FakeTimers : Timers {
  Id at(TimeMs when, std::function<void()> fn) override {
    ++armed;
    pending[++last] = {when, std::move(fn)};
    return last;
  }
  void cancel(Id id) override { pending.erase(id); }
  const Clock& clock() const override { return clock_; }
  void fire_all() {
    auto due = std::move(pending);
    pending.clear();
    for (auto& [id, t] : due) t.second();
  }
  FakeClock clock_;
  std::map<Id, std::pair<TimeMs, std::function<void()>>> pending;
  Id last = 0;
  int armed = 0;
};

TEST(DeadlineTimer, SameInstantTwice_ArmedOnce_AndAMoveReplacesIt) {
  FakeTimers timers;
  int fired = 0;
  DeadlineTimer t(timers, [&] { ++fired; });
  t.set(100);
  t.set(100);
  EXPECT_EQ(timers.armed, 1);
  t.set(50);
  EXPECT_EQ(timers.armed, 2);
  ASSERT_EQ(timers.pending.size(), 1u);
  EXPECT_EQ(timers.pending.begin()->second.first, 50);
  timers.fire_all();
  EXPECT_EQ(fired, 1);
  t.set(50);  // the instant came and went: armed again
  EXPECT_EQ(timers.armed, 3);
}

TEST(DeadlineTimer, NulloptOrDestruction_Cancels) {
  FakeTimers timers;
  int fired = 0;
  {
    DeadlineTimer t(timers, [&] { ++fired; });
    t.set(10);
    t.set(std::nullopt);
    EXPECT_TRUE(timers.pending.empty());
    t.set(20);
  }
  EXPECT_TRUE(timers.pending.empty());
  timers.fire_all();
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace hil
