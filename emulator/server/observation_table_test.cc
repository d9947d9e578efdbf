#include "emulator/server/observation_table.h"

#include <gtest/gtest.h>

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;

lw::Response note(uint32_t observe, const std::string& text, lw::Code code = lw::Code::Content) {
  lw::Response r;
  r.code = code;
  r.content_format = lw::format::kText;
  r.payload.assign(text.begin(), text.end());
  r.observe = observe;
  return r;
}

ObservationTable started() {
  ObservationTable t;
  t.start(0, Observation{5, "dev-1", "/3/0/13", 1, lw::format::kText});
  return t;
}

TEST(Fresher, Rfc7641_WrapsAndTimesOut) {
  EXPECT_TRUE(fresher(1, 0, 2, 0));
  EXPECT_FALSE(fresher(2, 0, 1, 0));
  EXPECT_FALSE(fresher(2, 0, 2, 0));
  EXPECT_TRUE(fresher(0xFFFFFF, 0, 0, 0));  // wrapped
  EXPECT_TRUE(fresher(2, 0, 1, 128'001));   // older number, but long after
}

TEST(ObservationTable, AnswerThenNotifications_EventsAndStateFollow) {
  ObservationTable t = started();
  auto e = t.on_response(10, 5, note(0, "1000"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "observe");
  EXPECT_EQ(t.find(5)->state, "active");
  e = t.on_response(20, 5, note(3, "1001"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "notify");
  EXPECT_NE(e->detail.find("observe=3"), std::string::npos);
  EXPECT_NE(e->detail.find("1001"), std::string::npos);
  EXPECT_EQ(t.find(5)->notifications, 1u);
  EXPECT_EQ(t.live("dev-1", "/3/0/13"), t.find(5));
}

TEST(ObservationTable, StaleNotification_CountedNotTaken) {
  ObservationTable t = started();
  t.on_response(10, 5, note(4, "a"));
  EXPECT_FALSE(t.on_response(20, 5, note(3, "old")));
  EXPECT_EQ(t.find(5)->stale, 1u);
  EXPECT_EQ(t.find(5)->payload, (lw::Bytes{'a'}));
}

TEST(ObservationTable, AnswerWithoutObserve_Refused_ErrorNotification_Ended) {
  ObservationTable t = started();
  lw::Response plain = note(0, "x");
  plain.observe.reset();
  auto e = t.on_response(1, 5, plain);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "observe_ended");
  EXPECT_EQ(t.find(5)->state, "refused");
  EXPECT_FALSE(t.live("dev-1", "/3/0/13"));

  ObservationTable u = started();
  u.on_response(1, 5, note(0, "x"));
  lw::Response gone = note(0, "", lw::Code::NotFound);
  gone.observe.reset();
  u.on_response(2, 5, gone);
  EXPECT_EQ(u.find(5)->state, "ended");
}

TEST(ObservationTable, Cancel_AnsweredOrFailed_EndsIt) {
  ObservationTable t = started();
  t.on_response(1, 5, note(0, "x"));
  t.cancelling(5);
  EXPECT_FALSE(t.on_response(2, 5, note(1, "late")));  // no longer taken
  auto e = t.cancelled(3, 5, "answered 2.05");
  ASSERT_TRUE(e);
  EXPECT_EQ(t.find(5)->state, "cancelled");
  EXPECT_FALSE(t.on_failure(4, 5, "timeout"));
}

TEST(ObservationTable, EndEndpoint_EndsItsLiveOnesOnly) {
  ObservationTable t = started();
  t.start(0, Observation{6, "dev-2", "/3/0/13"});
  t.on_response(1, 5, note(0, "x"));
  std::vector<Event> events;
  EXPECT_EQ(t.end_endpoint(2, "dev-1", "expired", events), (std::vector<uint64_t>{5}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "observe_ended");
  EXPECT_EQ(t.find(5)->state, "ended");
  EXPECT_EQ(t.find(5)->reason, "expired");
  EXPECT_EQ(t.find(6)->state, "pending");
  EXPECT_TRUE(t.end_endpoint(3, "dev-1", "expired", events).empty());
}

TEST(ObservationTable, EndedOnes_KeptUpToTheCap) {
  ObservationTable t(2);
  for (uint64_t tag = 1; tag <= 3; ++tag) {
    t.start(0, Observation{tag, "dev", "/3/0/" + std::to_string(tag)});
    t.on_failure(1, tag, "timeout");
  }
  EXPECT_FALSE(t.find(1));
  EXPECT_TRUE(t.find(3));
  EXPECT_EQ(t.all().size(), 2u);
}

}  // namespace
}  // namespace hil::server
