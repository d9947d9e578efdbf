#include "emulator/server/registration_server_core.h"

#include <gtest/gtest.h>

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;

lw::Request request(lw::Method method, std::vector<std::string> path,
                    std::vector<std::string> query, const std::string& payload = "") {
  lw::Request r;
  r.method = method;
  r.path = std::move(path);
  r.query = std::move(query);
  r.payload.assign(payload.begin(), payload.end());
  if (!payload.empty()) r.content_format = lw::format::kLinkFormat;
  return r;
}

class RegistrationServerCoreTest : public testing::Test {
 protected:
  RegistrationServerCoreTest() {
    core_.on_change = [this](const Event& e, const Registration& r) {
      changes_.push_back(e.kind + " " + r.endpoint);
    };
    // Peers 1 and 2: one host (2 after a NAT rebinding); 3: another host.
    core_.principal = [](PeerId p) { return p == 3 ? "host:b" : "host:a"; };
  }

  // Registers `ep` and returns its id.
  std::string reg(const std::string& ep, const std::string& lt = "300", PeerId peer = 1) {
    lw::Response resp =
        core_.on_request(now_, peer,
                         request(lw::Method::Post, {"rd"},
                                 {"ep=" + ep, "lt=" + lt, "lwm2m=1.1", "b=U"}, "</1/0>,</3/0>"));
    EXPECT_EQ(resp.code, lw::Code::Created);
    EXPECT_EQ(resp.location_path.size(), 2u);
    return resp.location_path.size() == 2 ? resp.location_path[1] : "";
  }

  lw::Code send(lw::Method m, std::vector<std::string> path, std::vector<std::string> query = {},
                const std::string& payload = "") {
    return core_.on_request(now_, 2, request(m, std::move(path), std::move(query), payload)).code;
  }

  RegistrationServerCore core_;
  std::vector<std::string> changes_;
  TimeMs now_ = 5000;
};

TEST_F(RegistrationServerCoreTest, Register_ValidRequest_CreatedWithLocation) {
  lw::Response resp =
      core_.on_request(now_, 9,
                       request(lw::Method::Post, {"rd"},
                               {"ep=dev-1", "lt=300", "lwm2m=1.1", "b=UQ"}, "</1/0>,</3/0>"));
  EXPECT_EQ(resp.code, lw::Code::Created);
  ASSERT_EQ(resp.location_path.size(), 2u);
  EXPECT_EQ(resp.location_path[0], "rd");
  EXPECT_FALSE(resp.location_path[1].empty());
  const Registration* r = core_.find("dev-1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->id, resp.location_path[1]);
  EXPECT_EQ(r->lifetime_s, 300u);
  EXPECT_EQ(r->lwm2m_version, "1.1");
  EXPECT_EQ(r->binding, "UQ");
  EXPECT_EQ(r->object_links, "</1/0>,</3/0>");
  EXPECT_EQ(r->registered_ms, now_);
  EXPECT_EQ(r->peer, 9u);
  EXPECT_EQ(changes_, std::vector<std::string>{"registered dev-1"});
}

TEST_F(RegistrationServerCoreTest, Register_OnlyEp_DefaultsApply) {
  EXPECT_EQ(send(lw::Method::Post, {"rd"}, {"ep=dev-1"}), lw::Code::Created);
  const Registration* r = core_.find("dev-1");
  EXPECT_EQ(r->lifetime_s, 86400u);
  EXPECT_EQ(r->lwm2m_version, "1.0");
  EXPECT_EQ(r->binding, "U");
}

TEST_F(RegistrationServerCoreTest, Register_MissingEp_BadRequest) {
  EXPECT_EQ(send(lw::Method::Post, {"rd"}, {"lt=300"}), lw::Code::BadRequest);
  EXPECT_EQ(send(lw::Method::Post, {"rd"}, {"ep=", "lt=300"}), lw::Code::BadRequest);
  EXPECT_TRUE(core_.registrations().empty());
  EXPECT_EQ(core_.events().back().kind, "rejected");
}

TEST_F(RegistrationServerCoreTest, Register_BadLifetime_BadRequest) {
  for (const char* lt : {"lt=abc", "lt=0", "lt=-5", "lt=4294967296", "lt="}) {
    EXPECT_EQ(send(lw::Method::Post, {"rd"}, {"ep=dev-1", lt}), lw::Code::BadRequest) << lt;
  }
  EXPECT_EQ(send(lw::Method::Post, {"rd"}, {"ep=dev-1", "lt=4294967295"}), lw::Code::Created);
}

TEST_F(RegistrationServerCoreTest, Register_WrongContentFormat_BadRequest) {
  lw::Request r = request(lw::Method::Post, {"rd"}, {"ep=dev-1"}, "</1/0>");
  r.content_format = lw::format::kTlv;
  EXPECT_EQ(core_.on_request(now_, 1, r).code, lw::Code::BadRequest);
}

TEST_F(RegistrationServerCoreTest, Register_SameEndpointAgain_ReplacesOld) {
  const std::string first = reg("dev-1");
  const std::string second = reg("dev-1");
  EXPECT_NE(first, second);
  ASSERT_EQ(core_.registrations().size(), 1u);
  EXPECT_EQ(core_.registrations()[0].id, second);
  EXPECT_EQ(send(lw::Method::Post, {"rd", first}), lw::Code::NotFound);
  EXPECT_NE(core_.events()[1].detail.find("replaces /rd/" + first), std::string::npos);
}

TEST_F(RegistrationServerCoreTest, Update_KnownId_ChangesLifetimeBindingLinks) {
  const std::string id = reg("dev-1");
  now_ += 1000;
  EXPECT_EQ(send(lw::Method::Post, {"rd", id}, {"lt=600", "b=UQ"}, "</3/0>"), lw::Code::Changed);
  const Registration* r = core_.find("dev-1");
  EXPECT_EQ(r->lifetime_s, 600u);
  EXPECT_EQ(r->binding, "UQ");
  EXPECT_EQ(r->object_links, "</3/0>");
  EXPECT_EQ(r->updated_ms, now_);
  EXPECT_EQ(r->updates, 1);
  EXPECT_EQ(r->peer, 2u);
}

TEST_F(RegistrationServerCoreTest, Update_EmptyPayload_KeepsLinks) {
  const std::string id = reg("dev-1");
  EXPECT_EQ(send(lw::Method::Post, {"rd", id}), lw::Code::Changed);
  EXPECT_EQ(core_.find("dev-1")->object_links, "</1/0>,</3/0>");
  EXPECT_EQ(core_.find("dev-1")->lifetime_s, 300u);
}

TEST_F(RegistrationServerCoreTest, Update_UnknownId_NotFound) {
  reg("dev-1");
  EXPECT_EQ(send(lw::Method::Post, {"rd", "nope"}), lw::Code::NotFound);
}

TEST_F(RegistrationServerCoreTest, Update_BadLifetime_BadRequestUnchanged) {
  const std::string id = reg("dev-1");
  EXPECT_EQ(send(lw::Method::Post, {"rd", id}, {"lt=x"}), lw::Code::BadRequest);
  EXPECT_EQ(core_.find("dev-1")->lifetime_s, 300u);
  EXPECT_EQ(core_.find("dev-1")->updates, 0);
}

TEST_F(RegistrationServerCoreTest, Deregister_KnownId_DeletedAndGone) {
  const std::string id = reg("dev-1");
  EXPECT_EQ(send(lw::Method::Delete, {"rd", id}), lw::Code::Deleted);
  EXPECT_EQ(core_.find("dev-1"), nullptr);
  EXPECT_FALSE(core_.next_deadline());
  EXPECT_EQ(send(lw::Method::Delete, {"rd", id}), lw::Code::NotFound);
  EXPECT_EQ(changes_, (std::vector<std::string>{"registered dev-1", "deregistered dev-1"}));
}

TEST_F(RegistrationServerCoreTest, OnRequest_OtherMethodOrPath_NotAllowedOrNotFound) {
  const std::string id = reg("dev-1");
  EXPECT_EQ(send(lw::Method::Get, {"rd"}), lw::Code::MethodNotAllowed);
  EXPECT_EQ(send(lw::Method::Put, {"rd", id}), lw::Code::MethodNotAllowed);
  EXPECT_EQ(send(lw::Method::Post, {"bs"}), lw::Code::NotFound);
  EXPECT_EQ(send(lw::Method::Post, {"rd", id, "x"}), lw::Code::NotFound);
}

TEST_F(RegistrationServerCoreTest, Expiry_NoUpdate_RemovedAtDeadline) {
  reg("dev-1", "300");
  const TimeMs deadline = now_ + 300000;
  EXPECT_EQ(core_.next_deadline(), deadline);
  core_.on_timeout(deadline - 1);
  EXPECT_NE(core_.find("dev-1"), nullptr);
  core_.on_timeout(deadline);
  EXPECT_EQ(core_.find("dev-1"), nullptr);
  EXPECT_FALSE(core_.next_deadline());
  EXPECT_EQ(core_.events().back().kind, "expired");
  EXPECT_EQ(changes_.back(), "expired dev-1");
}

TEST_F(RegistrationServerCoreTest, Expiry_UpdateBeforeDeadline_Extends) {
  const std::string id = reg("dev-1", "300");
  now_ += 200000;
  send(lw::Method::Post, {"rd", id});
  EXPECT_EQ(core_.next_deadline(), now_ + 300000);
  core_.on_timeout(now_ + 299999);
  EXPECT_NE(core_.find("dev-1"), nullptr);
}

TEST_F(RegistrationServerCoreTest, Expiry_SeveralRegistrations_EarliestFirst) {
  reg("a", "100");
  reg("b", "50");
  EXPECT_EQ(core_.next_deadline(), now_ + 50000);
  core_.on_timeout(now_ + 50000);
  ASSERT_EQ(core_.registrations().size(), 1u);
  EXPECT_EQ(core_.registrations()[0].endpoint, "a");
  EXPECT_EQ(core_.next_deadline(), now_ + 100000);
}

TEST_F(RegistrationServerCoreTest, Update_FromAnotherPrincipal_ForbiddenUnchanged) {
  const std::string id = reg("dev-1");
  lw::Request update = request(lw::Method::Post, {"rd", id}, {"lt=9"});
  EXPECT_EQ(core_.on_request(now_ + 1, 3, update).code, lw::Code::Forbidden);
  const Registration* r = core_.find("dev-1");
  EXPECT_EQ(r->peer, 1u);
  EXPECT_EQ(r->lifetime_s, 300u);
  EXPECT_EQ(r->updates, 0);
  EXPECT_EQ(core_.next_deadline(), now_ + 300000);
  EXPECT_EQ(core_.events().back().kind, "rejected");
  EXPECT_NE(core_.events().back().detail.find("host:b is not the client that registered dev-1"),
            std::string::npos);
  EXPECT_EQ(core_.counters().refused_principal, 1u);
}

TEST_F(RegistrationServerCoreTest, Deregister_FromAnotherPrincipal_ForbiddenStillRegistered) {
  const std::string id = reg("dev-1");
  lw::Request bye = request(lw::Method::Delete, {"rd", id}, {});
  EXPECT_EQ(core_.on_request(now_, 3, bye).code, lw::Code::Forbidden);
  EXPECT_NE(core_.find("dev-1"), nullptr);
  EXPECT_EQ(changes_, std::vector<std::string>{"registered dev-1"});
  EXPECT_EQ(core_.on_request(now_, 2, bye).code, lw::Code::Deleted);  // same host, new port
}

TEST_F(RegistrationServerCoreTest, Register_Ids_128RandomBitsNeverSequential) {
  const std::string a = reg("a"), b = reg("b");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_NE(send(lw::Method::Post, {"rd", "1"}), lw::Code::Changed);
}

TEST(RegistrationServerCoreIds, Register_SameSeed_SameIds) {
  auto ids = [](uint64_t seed) {
    RegistrationServerCore core(0, {}, [x = seed]() mutable { return x += 0x9e3779b97f4a7c15; });
    lw::Request r = request(lw::Method::Post, {"rd"}, {"ep=dev-1"});
    return core.on_request(0, 1, r).location_path.at(1);
  };
  EXPECT_EQ(ids(7), ids(7));
  EXPECT_NE(ids(7), ids(8));
}

TEST(RegistrationServerCoreLimits, Register_LifetimeAboveMax_CutExpiresAtMax) {
  RegistrationServerCore core(0, {/*max_lifetime_s=*/60});
  lw::Request r = request(lw::Method::Post, {"rd"}, {"ep=dev-1", "lt=4294967295"});
  ASSERT_EQ(core.on_request(0, 1, r).code, lw::Code::Created);
  EXPECT_EQ(core.find("dev-1")->lifetime_s, 60u);
  EXPECT_NE(core.events().back().detail.find("lt 4294967295 cut to max_lifetime 60"),
            std::string::npos);
  EXPECT_EQ(core.next_deadline(), 60000);
  core.on_timeout(60000);
  EXPECT_EQ(core.find("dev-1"), nullptr);
  EXPECT_EQ(core.counters().lifetimes_capped, 1u);
}

TEST(RegistrationServerCoreLimits, Update_LifetimeAboveMax_Cut) {
  RegistrationServerCore core(0, {/*max_lifetime_s=*/60});
  lw::Request r = request(lw::Method::Post, {"rd"}, {"ep=dev-1", "lt=30"});
  const std::string id = core.on_request(0, 1, r).location_path.at(1);
  lw::Request update = request(lw::Method::Post, {"rd", id}, {"lt=999999"});
  EXPECT_EQ(core.on_request(1000, 1, update).code, lw::Code::Changed);
  EXPECT_EQ(core.find("dev-1")->lifetime_s, 60u);
  EXPECT_EQ(core.next_deadline(), 61000);
}

TEST(RegistrationServerCoreLimits, Register_Full_ServiceUnavailableReplacementStillAllowed) {
  RegistrationServerCore core(0, {86400, /*max_registrations=*/2});
  auto reg = [&](const std::string& ep) {
    return core.on_request(0, 1, request(lw::Method::Post, {"rd"}, {"ep=" + ep})).code;
  };
  EXPECT_EQ(reg("a"), lw::Code::Created);
  EXPECT_EQ(reg("b"), lw::Code::Created);
  EXPECT_EQ(reg("c"), lw::Code::Unavailable);
  EXPECT_EQ(reg("a"), lw::Code::Created);  // replaces its own registration
  EXPECT_EQ(core.registrations().size(), 2u);
  EXPECT_EQ(core.find("c"), nullptr);
  EXPECT_EQ(core.counters().refused_full, 1u);
}

TEST(RegistrationServerCoreLimits, Events_OverCap_OldestEvictedAndCounted) {
  RegistrationServerCore core(0, {86400, 100000, /*max_events=*/3});
  for (int i = 0; i < 5; ++i)
    core.on_request(i, 1, request(lw::Method::Post, {"rd"}, {"ep=dev-" + std::to_string(i)}));
  const std::vector<Event> events = core.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.front().time_ms, 2);
  EXPECT_EQ(core.counters().events_evicted, 2u);
}

TEST(RegistrationServerCoreGrace, Expiry_WithGrace_SurvivesLifetime) {
  RegistrationServerCore core(/*grace_ms=*/2000);
  lw::Request r = request(lw::Method::Post, {"rd"}, {"ep=dev-1", "lt=10"});
  core.on_request(0, 1, r);
  core.on_timeout(10000);
  EXPECT_NE(core.find("dev-1"), nullptr);
  core.on_timeout(12000);
  EXPECT_EQ(core.find("dev-1"), nullptr);
}

}  // namespace
}  // namespace hil::server
