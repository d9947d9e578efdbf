#include "emulator/server/event_log.h"

#include <gtest/gtest.h>

#include <string>

namespace hil::server {
namespace {

std::string detail(int i) { return "event " + std::to_string(i) + std::string(i % 700, 'x'); }

TEST(EventLog, Push_BeyondCap_KeepsTheNewestInOrderAcrossTextBlocks) {
  // 5,000 details of up to 700 bytes: the text spans dozens of blocks, some
  // details straddle two, and the oldest blocks go as their events do.
  EventLog log(1000);
  for (int i = 0; i < 5000; ++i) log.push({i, "kind", detail(i)});
  std::vector<Event> all = log.snapshot();
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_EQ(log.evicted(), 4000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(all[i].time_ms, 4000 + i);
    EXPECT_EQ(all[i].kind, "kind");
    ASSERT_EQ(all[i].detail, detail(4000 + i));
  }
}

TEST(EventLog, Since_ReturnsWhatTheCapLeftAndTheNextNumber) {
  EventLog log(3);
  for (int i = 0; i < 5; ++i) log.push({i, "k", detail(i)});
  auto [next, events] = log.since(1);  // 1 was evicted: 2, 3, 4 are left
  EXPECT_EQ(next, 5u);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].detail, detail(2));
  auto [again, none] = log.since(next);
  EXPECT_EQ(again, 5u);
  EXPECT_TRUE(none.empty());
}

TEST(EventLog, EmptyDetailsAndCapZero) {
  EventLog log(2);
  log.push({1, "a", ""});
  log.push({2, "b", "two"});
  log.push({3, "c", ""});
  std::vector<Event> all = log.snapshot();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].detail, "two");
  EXPECT_EQ(all[1].detail, "");
  EventLog off(0);
  off.push({1, "a", "x"});
  EXPECT_TRUE(off.empty());
  EXPECT_EQ(off.evicted(), 1u);
}

}  // namespace
}  // namespace hil::server
