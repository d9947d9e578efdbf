#include "emulator/lwm2m/client/observations.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/client/client.h"

namespace hil::lwm2m {
namespace {

const Path kTime{kDevice, 0, 13, {}};
const Bytes kToken{1, 2, 3, 4};

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Observations::Entry entry(const Path& p = kTime) {
  Observations::Entry e;
  e.token = kToken;
  e.ssid = 7;
  e.path = p;
  e.format = format::kText;
  e.sent = text("10");
  e.sent_number = 10;
  return e;
}

TEST(Observations, WriteAttributes_BadItem_ErrorNamesItAndNothingApplied) {
  Observations o;
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmin=2"}));
  auto why = o.write_attributes(7, kTime, {"pmax=5", "pmin=x"});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("pmin=x"), std::string::npos);
  EXPECT_EQ(o.attributes(7, kTime).pmin_s, 2);
  EXPECT_FALSE(o.attributes(7, kTime).pmax_s);
  EXPECT_TRUE(o.write_attributes(7, kTime, {"foo=1"}));
  EXPECT_TRUE(o.write_attributes(7, kTime, {"st=-1"}));
  EXPECT_TRUE(o.write_attributes(7, kTime, {"gt=5", "lt=6"}));
}

TEST(Observations, Attributes_InheritedFromInstanceThenObject_PerServer_ClearedWithoutValue) {
  Observations o;
  ASSERT_FALSE(o.write_attributes(7, Path{kDevice, {}, {}, {}}, {"pmin=1", "pmax=60"}));
  ASSERT_FALSE(o.write_attributes(7, Path{kDevice, 0, {}, {}}, {"pmax=30"}));
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmin=3"}));
  NotifyAttributes a = o.attributes(7, kTime);
  EXPECT_EQ(a.pmin_s, 3);
  EXPECT_EQ(a.pmax_s, 30);
  EXPECT_FALSE(o.attributes(8, kTime).pmin_s);  // another server's are its own
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmin"}));
  EXPECT_EQ(o.attributes(7, kTime).pmin_s, 1);
}

TEST(Observations, Check_ChangeBeforePmin_WaitsForPmin_ThenNotifiesWithHigherObserve) {
  Observations o;
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmin=2"}));
  uint32_t first = o.add(1000, entry());
  Observations::Entry& e = o.entries()[0];
  EXPECT_FALSE(o.check(1500, e, text("11"), 11));
  EXPECT_TRUE(e.pending);
  EXPECT_EQ(o.next_deadline(), 3000);
  EXPECT_FALSE(o.check(2999, e, text("11"), 11));
  auto seq = o.check(3000, e, text("11"), 11);
  ASSERT_TRUE(seq);
  EXPECT_GT(*seq, first);
  EXPECT_FALSE(o.next_deadline());                 // nothing pending, no pmax
  EXPECT_FALSE(o.check(9000, e, text("11"), 11));  // no change, no pmax: silence
}

TEST(Observations, Check_NoChange_PmaxForcesNotification_PmaxBelowPminIgnored) {
  Observations o;
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmax=5"}));
  o.add(1000, entry());
  Observations::Entry& e = o.entries()[0];
  EXPECT_EQ(o.next_deadline(), 6000);
  EXPECT_FALSE(o.check(5999, e, text("10"), 10));
  EXPECT_TRUE(o.check(6000, e, text("10"), 10));
  EXPECT_EQ(o.next_deadline(), 11000);
  ASSERT_FALSE(o.write_attributes(7, kTime, {"pmin=10"}));
  EXPECT_FALSE(o.next_deadline());
  EXPECT_FALSE(o.check(11000, e, text("10"), 10));
}

TEST(Observations, Check_StepAndThresholds_OnlyQualifyingChangesNotify) {
  Observations o;
  ASSERT_FALSE(o.write_attributes(7, kTime, {"st=5", "gt=100"}));
  o.add(0, entry());
  Observations::Entry& e = o.entries()[0];
  EXPECT_FALSE(o.check(1, e, text("14"), 14));  // moved 4 < st
  EXPECT_TRUE(o.check(2, e, text("15"), 15));   // moved 5 from 10
  EXPECT_FALSE(o.check(3, e, text("18"), 18));
  ASSERT_FALSE(o.write_attributes(7, kTime, {"st"}));
  EXPECT_FALSE(o.check(4, e, text("99"), 99));   // below gt still
  EXPECT_TRUE(o.check(5, e, text("101"), 101));  // crossed gt
}

TEST(Observations, AddRemove_SameTokenReplaces_RemoveGivesPath) {
  Observations o;
  o.add(0, entry());
  o.add(0, entry(Path{kDevice, 0, 0, {}}));
  EXPECT_EQ(o.size(), 1u);
  auto p = o.remove(kToken);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->str(), "/3/0/0");
  EXPECT_FALSE(o.remove(kToken));
}

// --- through the client -------------------------------------------------------

constexpr Origin kServer7{false, 7};

struct Registered {
  Registered() : client(config(), tree()) {
    client.start(now);
    drain();
    client.on_timeout(now);
    drain();
    client.on_response(now, register_id, Response{Code::Created, {}, {}, {"rd", "x"}});
    drain();
    EXPECT_EQ(client.state(), State::Registered);
  }
  static ClientConfig config() {
    ClientConfig c;
    c.endpoint = "dev-1";
    return c;
  }
  static ObjectTree tree() {
    ObjectTree t;
    t.set(kSecurity, 1, security::kUri, std::string("coap://dm"));
    t.set(kSecurity, 1, security::kBootstrapServer, false);
    t.set(kSecurity, 1, security::kMode, security::kModeNoSec);
    t.set(kSecurity, 1, security::kShortServerId, int64_t{7});
    t.set(kServer, 0, server::kShortServerId, int64_t{7});
    t.set(kServer, 0, server::kLifetime, int64_t{3600});
    t.set(kDevice, 0, device::kManufacturer, std::string("lwm2m-hil"));
    t.set(kDevice, 0, 13, int64_t{1000});
    return t;
  }
  void drain() {
    while (auto a = client.poll()) {
      if (auto* s = std::get_if<SendRequest>(&*a)) register_id = s->id;
      if (auto* n = std::get_if<Notify>(&*a)) notes.push_back(*n);
    }
  }
  Response get(const std::string& path, std::optional<uint32_t> observe, Bytes token = kToken) {
    Request r;
    r.method = Method::Get;
    r.path = {"3", "0", path};
    r.accept = format::kText;
    r.observe = observe;
    r.token = std::move(token);
    Response resp = client.on_request(now, kServer7, r);
    drain();
    return resp;
  }
  Response write_attributes(const std::vector<std::string>& query) {
    Request r;
    r.method = Method::Put;
    r.path = {"3", "0", "13"};
    r.query = query;
    Response resp = client.on_request(now, kServer7, r);
    drain();
    return resp;
  }
  void set(const std::string& value) {
    ASSERT_TRUE(client.set_resource(now, "/3/0/13", value).ok());
    drain();
  }
  void advance(TimeMs to) {
    while (client.next_deadline() && *client.next_deadline() <= to) {
      now = *client.next_deadline();
      client.on_timeout(now);
      drain();
    }
    now = to;
  }

  Client client;
  TimeMs now = 1000;
  uint64_t register_id = 0;
  std::vector<Notify> notes;
};

std::string body(const Notify& n) {
  return std::string(n.response.payload.begin(), n.response.payload.end());
}

TEST(ClientObserve, GetObserve0_AnswerHasObserve_ChangeNotifiesOnTokenWithHigherObserve) {
  Registered d;
  Response first = d.get("13", 0);
  ASSERT_EQ(first.code, Code::Content);
  ASSERT_TRUE(first.observe);
  EXPECT_EQ(d.client.observations(), 1u);
  d.set("1001");
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0].token, kToken);
  EXPECT_EQ(d.notes[0].to.ssid, 7);
  EXPECT_EQ(body(d.notes[0]), "1001");
  ASSERT_TRUE(d.notes[0].response.observe);
  EXPECT_GT(*d.notes[0].response.observe, *first.observe);
  d.set("1001");  // no change, no notification
  d.set("1002");
  ASSERT_EQ(d.notes.size(), 2u);
  EXPECT_GT(*d.notes[1].response.observe, *d.notes[0].response.observe);
}

TEST(ClientObserve, Pmin_DelaysChange_Pmax_ForcesWithoutChange_OnTheClockGiven) {
  Registered d;
  ASSERT_EQ(d.write_attributes({"pmin=2", "pmax=5"}).code, Code::Changed);
  d.get("13", 0);
  const TimeMs t0 = d.now;
  d.now += 500;
  d.set("1001");
  EXPECT_TRUE(d.notes.empty());
  EXPECT_EQ(d.client.next_deadline(), t0 + 2000);
  d.advance(t0 + 2000);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(body(d.notes[0]), "1001");
  d.advance(t0 + 6999);
  EXPECT_EQ(d.notes.size(), 1u);
  d.advance(t0 + 7000);  // pmax after the last notification
  ASSERT_EQ(d.notes.size(), 2u);
  EXPECT_EQ(body(d.notes[1]), "1001");
}

TEST(ClientObserve, WriteAttributes_BadQuery_400AndNamesIt) {
  Registered d;
  Response r = d.write_attributes({"pmin=soon"});
  EXPECT_EQ(r.code, Code::BadRequest);
  EXPECT_NE(std::string(r.payload.begin(), r.payload.end()).find("pmin=soon"), std::string::npos);
}

TEST(ClientObserve, CancelByObserve1_OrNotifyFailed_StopsNotifications) {
  Registered d;
  d.get("13", 0);
  Response again = d.get("13", 1);
  EXPECT_EQ(again.code, Code::Content);
  EXPECT_FALSE(again.observe);
  EXPECT_EQ(d.client.observations(), 0u);
  d.set("1001");
  EXPECT_TRUE(d.notes.empty());

  d.get("13", 0, Bytes{9});
  d.client.on_notify_failed(d.now, Bytes{9}, "reset by the peer");
  d.set("1002");
  EXPECT_TRUE(d.notes.empty());
}

TEST(ClientObserve, SetResource_BadPathOrValue_ErrorSaysWhat) {
  Registered d;
  auto st = d.client.set_resource(d.now, "/3/0", "1");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/obj/inst/res"), std::string::npos);
  EXPECT_FALSE(d.client.set_resource(d.now, "/3/0/13", "soon").ok());
  EXPECT_FALSE(d.client.set_resource(d.now, "/0/1/3", "x").ok());
  EXPECT_FALSE(d.client.set_resource(d.now, "/3/5/13", "1").ok());
}

TEST(ClientObserve, Deregister_EndsObservations) {
  Registered d;
  d.get("13", 0);
  d.client.deregister(d.now);
  d.drain();
  EXPECT_EQ(d.client.observations(), 0u);
}

}  // namespace
}  // namespace hil::lwm2m
