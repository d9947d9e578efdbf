#include "emulator/server/bootstrap_server_core.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/codec/content.h"
#include "emulator/lwm2m/model/object_def.h"

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;
using Outgoing = BootstrapServerCore::Outgoing;

constexpr char kConfig[] = R"({"endpoints": [
  {"match": "cr-*", "profile": "cr", "delete": ["/"],
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]},
  {"match": "v10-*", "profile": "1.0", "delete": ["/"],
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]},
  {"match": "v11-*", "profile": "1.1", "delete": ["/"],
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]},
  {"match": "nofinish", "profile": "1.0", "finish": false,
   "writes": [{"path": "/1/0/1", "value": 60}]},
  {"match": "empty-cr", "profile": "cr"},
  {"match": "opt-*", "profile": "1.0", "delete": [{"path": "/", "optional": true}],
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}],
   "writes": [{"path": "/1/0/7", "value": "U", "optional": true}]},
  {"match": "fixed-*", "content_format": "tlv",
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]},
  {"match": "look-*", "profile": "1.1", "discover": ["/"],
   "read": ["/1", {"path": "/2", "optional": true}],
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]},
  {"match": "dev-*",
   "servers": [{"ssid": 1, "uri": "coap://127.0.0.1:5683", "lifetime": 300}]}
]})";

BootstrapConfig config() {
  Result<BootstrapConfig> c = parse_bootstrap_config(kConfig);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return *c;
}

lw::Request bootstrap_request(const std::vector<std::string>& query) {
  lw::Request r;
  r.method = lw::Method::Post;
  r.path = {"bs"};
  r.query = query;
  return r;
}

lw::Response answer(lw::Code code) {
  lw::Response r;
  r.code = code;
  return r;
}

std::string line(const lw::Request& r) { return lw::to_string(r.method) + " " + r.uri_path(); }

class BootstrapServerCoreTest : public testing::Test {
 protected:
  BootstrapServerCoreTest() : core_(config(), lw::Profile::V1_0) {
    core_.on_outcome = [this](const EndpointResult& r) {
      outcomes_.push_back(r.endpoint + " " + to_string(*r.outcome));
    };
  }

  lw::Code request(PeerId peer, const std::vector<std::string>& query) {
    return core_.on_request(now_, peer, bootstrap_request(query)).code;
  }

  // Answers every request with 2.02/2.04 (or `finish_code` for Finish)
  // until the server has nothing left to send; returns what was sent.
  std::vector<std::string> run(lw::Code finish_code = lw::Code::Changed) {
    std::vector<std::string> sent;
    while (std::optional<Outgoing> out = core_.poll_request(++now_)) {
      sent.push_back(line(out->request));
      lw::Code code =
          out->request.method == lw::Method::Delete ? lw::Code::Deleted : lw::Code::Changed;
      if (out->request.method == lw::Method::Post) code = finish_code;
      core_.on_response(++now_, out->request_id, answer(code));
    }
    return sent;
  }

  Outcome outcome(const std::string& ep) {
    const EndpointResult* r = core_.result(ep);
    EXPECT_NE(r, nullptr) << ep;
    EXPECT_TRUE(r && r->outcome) << ep << " has no outcome";
    return r && r->outcome ? *r->outcome : Outcome::Cancelled;
  }

  BootstrapServerCore core_;
  std::vector<std::string> outcomes_;
  TimeMs now_ = 1000;
};

const std::vector<std::string> kWithFinish = {"DELETE /", "PUT /0/1", "PUT /1/0", "POST /bs"};
const std::vector<std::string> kWithoutFinish = {"DELETE /", "PUT /0/1", "PUT /1/0"};

TEST_F(BootstrapServerCoreTest, RequestBootstrap_Profile10_DeletesWritesThenFinish) {
  EXPECT_EQ(request(1, {"ep=v10-1"}), lw::Code::Changed);
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("v10-1"), Outcome::Success);
  EXPECT_EQ(core_.result("v10-1")->finish_sent, 1);
  EXPECT_EQ(core_.result("v10-1")->requests_sent, 4);
  EXPECT_EQ(outcomes_, std::vector<std::string>{"v10-1 SUCCESS"});
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_Profile11WithPct_SendsFinish) {
  EXPECT_EQ(request(1, {"ep=v11-1", "pct=11542"}), lw::Code::Changed);
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("v11-1"), Outcome::Success);
  EXPECT_EQ(core_.result("v11-1")->profile, lw::Profile::V1_1);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_CrWithFinishTrue_SendsFinish) {
  EXPECT_EQ(request(1, {"ep=cr-1", "Finish=true"}), lw::Code::Changed);
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("cr-1"), Outcome::Success);
  EXPECT_EQ(core_.result("cr-1")->finish_sent, 1);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_CrWithoutFinish_NoFinishSuccessAfterLastWrite) {
  EXPECT_EQ(request(1, {"ep=cr-1"}), lw::Code::Changed);
  std::vector<std::string> sent;
  TimeMs last_answer = 0;
  while (std::optional<Outgoing> out = core_.poll_request(++now_)) {
    sent.push_back(line(out->request));
    EXPECT_FALSE(core_.result("cr-1")->outcome) << "ended before the last answer";
    last_answer = ++now_;
    core_.on_response(last_answer, out->request_id, answer(lw::Code::Changed));
  }
  EXPECT_EQ(sent, kWithoutFinish);
  EXPECT_EQ(outcome("cr-1"), Outcome::Success);
  EXPECT_EQ(core_.result("cr-1")->finish_sent, 0);
  EXPECT_EQ(core_.result("cr-1")->ended_ms, last_answer);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_CrFinishFalse_NoFinish) {
  EXPECT_EQ(request(1, {"ep=cr-1", "Finish=false"}), lw::Code::Changed);
  EXPECT_EQ(run(), kWithoutFinish);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_DefaultProfile10_SendsFinish) {
  EXPECT_EQ(request(1, {"ep=dev-1"}), lw::Code::Changed);
  EXPECT_EQ(run(), (std::vector<std::string>{"PUT /0/1", "PUT /1/0", "POST /bs"}));
  EXPECT_EQ(core_.result("dev-1")->profile, lw::Profile::V1_0);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_DefaultProfileCr_NoFinish) {
  BootstrapServerCore core(config(), lw::Profile::Cr);
  core.on_request(now_, 1, bootstrap_request({"ep=dev-1"}));
  int finishes = 0;
  while (std::optional<Outgoing> out = core.poll_request(now_)) {
    finishes += out->request.method == lw::Method::Post;
    core.on_response(now_, out->request_id, answer(lw::Code::Changed));
  }
  EXPECT_EQ(finishes, 0);
  EXPECT_EQ(core.result("dev-1")->outcome, Outcome::Success);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_FinishPolicyFalse_NoFinishIn10) {
  EXPECT_EQ(request(1, {"ep=nofinish"}), lw::Code::Changed);
  EXPECT_EQ(run(), std::vector<std::string>{"PUT /1/0/1"});
  EXPECT_EQ(outcome("nofinish"), Outcome::Success);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_NothingToSend_SuccessAtOnce) {
  EXPECT_EQ(request(1, {"ep=empty-cr"}), lw::Code::Changed);
  EXPECT_EQ(outcome("empty-cr"), Outcome::Success);
  EXPECT_FALSE(core_.poll_request(now_));
}

TEST_F(BootstrapServerCoreTest, Writes_Payloads_DecodeToConfiguredAccount) {
  request(1, {"ep=dev-1"});
  std::optional<Outgoing> out = core_.poll_request(now_);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->peer, 1u);
  EXPECT_EQ(out->endpoint, "dev-1");
  EXPECT_EQ(out->request.content_format, lw::format::kTlv);
  const lw::ObjectDef& def = *lw::ObjectRegistry::builtin().find(lw::kSecurity);
  Result<lw::Instances> d =
      lw::content::decode_write(def, *lw::Path::parse("/0/1"), lw::format::kTlv,
                                out->request.payload.data(), out->request.payload.size());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->at(1).at(lw::security::kUri).values.at(0),
            lw::Value(std::string("coap://127.0.0.1:5683")));
  EXPECT_EQ(d->at(1).at(lw::security::kBootstrapServer).values.at(0), lw::Value(false));
}

TEST_F(BootstrapServerCoreTest, PollRequest_RequestInFlight_NothingMoreForThatPeer) {
  request(1, {"ep=v10-1"});
  std::optional<Outgoing> first = core_.poll_request(now_);
  ASSERT_TRUE(first);
  EXPECT_FALSE(core_.poll_request(now_));
  core_.on_response(now_, first->request_id, answer(lw::Code::Deleted));
  std::optional<Outgoing> second = core_.poll_request(now_);
  ASSERT_TRUE(second);
  EXPECT_EQ(line(second->request), "PUT /0/1");
  EXPECT_NE(second->request_id, first->request_id);
}

TEST_F(BootstrapServerCoreTest, PollRequest_TwoEndpoints_OneInFlightEach) {
  request(1, {"ep=v10-1"});
  request(2, {"ep=v10-2"});
  std::optional<Outgoing> a = core_.poll_request(now_);
  std::optional<Outgoing> b = core_.poll_request(now_);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->peer, b->peer);
  EXPECT_FALSE(core_.poll_request(now_));
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_SameEndpointAgain_CancelsOldSession) {
  request(1, {"ep=v10-1"});
  std::optional<Outgoing> old = core_.poll_request(now_);
  ASSERT_TRUE(old);
  EXPECT_EQ(request(7, {"ep=v10-1"}), lw::Code::Changed);
  EXPECT_EQ(outcomes_, std::vector<std::string>{"v10-1 CANCELLED"});
  core_.on_response(now_, old->request_id, answer(lw::Code::Deleted));  // stale
  std::optional<Outgoing> next = core_.poll_request(now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->peer, 7u);
  EXPECT_EQ(line(next->request), "DELETE /");  // the new session starts over
  core_.on_response(now_, next->request_id, answer(lw::Code::Deleted));
  EXPECT_EQ(run(), (std::vector<std::string>{"PUT /0/1", "PUT /1/0", "POST /bs"}));
  EXPECT_EQ(outcome("v10-1"), Outcome::Success);
  EXPECT_EQ(core_.result("v10-1")->sessions, 2);
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_SamePeerOtherEndpoint_CancelsOldSession) {
  request(1, {"ep=v10-1"});
  request(1, {"ep=v10-2"});
  EXPECT_EQ(outcomes_, std::vector<std::string>{"v10-1 CANCELLED"});
  EXPECT_EQ(core_.poll_request(now_)->endpoint, "v10-2");
  EXPECT_FALSE(core_.poll_request(now_));
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_UnknownEndpoint_NoBootstrapConfig) {
  EXPECT_EQ(request(1, {"ep=stranger"}), lw::Code::BadRequest);
  EXPECT_EQ(outcome("stranger"), Outcome::NoBootstrapConfig);
  EXPECT_EQ(outcomes_, std::vector<std::string>{"stranger NO_BOOTSTRAP_CONFIG"});
  EXPECT_FALSE(core_.poll_request(now_));
}

TEST_F(BootstrapServerCoreTest, RequestBootstrap_MissingOrEmptyEp_BadRequestNoResult) {
  EXPECT_EQ(request(1, {}), lw::Code::BadRequest);
  EXPECT_EQ(request(1, {"ep="}), lw::Code::BadRequest);
  EXPECT_TRUE(core_.results().empty());
  ASSERT_EQ(core_.events().size(), 2u);
  EXPECT_EQ(core_.events()[0].kind, "rejected");
}

TEST_F(BootstrapServerCoreTest, OnRequest_OtherPathOrMethod_NotFoundOrNotAllowed) {
  lw::Request r = bootstrap_request({"ep=v10-1"});
  r.path = {"rd"};
  EXPECT_EQ(core_.on_request(now_, 1, r).code, lw::Code::NotFound);
  r.path = {"bs"};
  r.method = lw::Method::Get;
  EXPECT_EQ(core_.on_request(now_, 1, r).code, lw::Code::MethodNotAllowed);
  EXPECT_TRUE(core_.results().empty());
}

TEST_F(BootstrapServerCoreTest, Authorize_Refused_UnauthorizedRunningSessionUntouched) {
  core_.authorize = [](PeerId peer, const std::string&) -> std::optional<std::string> {
    if (peer == 66) return "peer 66 is not trusted";
    return std::nullopt;
  };
  EXPECT_EQ(request(66, {"ep=v10-1"}), lw::Code::BadRequest);
  EXPECT_EQ(outcome("v10-1"), Outcome::Unauthorized);
  request(1, {"ep=v10-1"});
  EXPECT_EQ(request(66, {"ep=v10-1"}), lw::Code::BadRequest);
  EXPECT_FALSE(core_.result("v10-1")->outcome);
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("v10-1"), Outcome::Success);
}

TEST_F(BootstrapServerCoreTest, Authorize_RefusedAfterSuccess_OutcomeKeptRefusalNoted) {
  core_.authorize = [](PeerId peer, const std::string&) -> std::optional<std::string> {
    if (peer == 66) return "peer 66 is not trusted";
    return std::nullopt;
  };
  request(1, {"ep=v10-1"});
  run();
  EXPECT_EQ(request(66, {"ep=v10-1"}), lw::Code::BadRequest);
  EXPECT_EQ(outcome("v10-1"), Outcome::Success);
  EXPECT_EQ(core_.result("v10-1")->peer, 1u);
  EXPECT_EQ(core_.result("v10-1")->sessions, 1);
  EXPECT_EQ(core_.result("v10-1")->events.back().kind, "rejected");
  EXPECT_EQ(outcomes_, std::vector<std::string>{"v10-1 SUCCESS"});
}

TEST_F(BootstrapServerCoreTest, Authorize_CertificateOfAnotherEndpoint_NamedOutcome) {
  core_.authorize = [](PeerId, const std::string& ep) -> std::optional<Refusal> {
    return Refusal{"certificate of \"v10-1\" may not act as " + ep, Outcome::CertNameMismatch};
  };
  EXPECT_EQ(request(1, {"ep=v10-2"}), lw::Code::BadRequest);
  EXPECT_EQ(outcome("v10-2"), Outcome::CertNameMismatch);
  EXPECT_FALSE(core_.poll_request(++now_)) << "a refused client gets no command";
}

TEST_F(BootstrapServerCoreTest, Refuse_FailedHandshake_NamedOutcomeOnlyForIdleEndpoint) {
  core_.refuse(now_, 0, "v10-1", "certificate expired", Outcome::CertExpired);
  EXPECT_EQ(outcome("v10-1"), Outcome::CertExpired);
  EXPECT_EQ(core_.result("v10-1")->reason, "certificate expired");
}

TEST_F(BootstrapServerCoreTest, Cancel_RequestInFlight_PeerSendsNothingUntilItsExchangeEnds) {
  request(1, {"ep=v10-1"});
  std::optional<Outgoing> old = core_.poll_request(++now_);
  ASSERT_TRUE(old);
  for (int i = 0; i < 3; ++i) request(1, {"ep=v10-" + std::to_string(i + 2)});  // a flood
  EXPECT_FALSE(core_.poll_request(++now_)) << "a second request queued behind the orphan";
  core_.on_failure(++now_, old->request_id, Failure::Timeout, "timeout");
  std::optional<Outgoing> next = core_.poll_request(++now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->endpoint, "v10-4");
  EXPECT_EQ(outcome("v10-1"), Outcome::Cancelled);
  EXPECT_EQ(outcome("v10-3"), Outcome::Cancelled);
}

TEST(BootstrapServerCoreLimits, Cancel_OrphanNeverReported_PeerServedAfterMaxOrphan) {
  BootstrapLimits limits;
  limits.max_orphan_ms = 1000;
  BootstrapServerCore core(config(), lw::Profile::V1_0, limits);
  core.on_request(0, 1, bootstrap_request({"ep=v10-1"}));
  ASSERT_TRUE(core.poll_request(0));  // its exchange ends without a word
  core.on_request(10, 1, bootstrap_request({"ep=v10-2"}));
  EXPECT_FALSE(core.poll_request(999));
  std::optional<Outgoing> next = core.poll_request(1010);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->endpoint, "v10-2");
}

TEST_F(BootstrapServerCoreTest, Timeout_ThenNewRequest_SamePeerServedAtOnce) {
  request(1, {"ep=v10-1"});
  std::optional<Outgoing> lost = core_.poll_request(++now_);
  ASSERT_TRUE(lost);
  core_.on_failure(++now_, lost->request_id, Failure::Timeout, "timeout");
  EXPECT_EQ(outcome("v10-1"), Outcome::Timeout);
  request(1, {"ep=v10-1"});
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("v10-1"), Outcome::Success);
}

TEST(BootstrapServerCoreLimits, Results_OverCap_OldestEndedEvictedRunningKept) {
  BootstrapServerCore core(config(), lw::Profile::V1_0, {/*max_results=*/2});
  auto req = [&](PeerId peer, const std::string& ep) {
    core.on_request(0, peer, bootstrap_request({"ep=" + ep}));
  };
  req(1, "dev-running");  // its session never ends
  req(2, "nobody-1");     // NO_BOOTSTRAP_CONFIG: ended at once
  req(2, "nobody-2");
  req(2, "nobody-3");
  EXPECT_NE(core.result("dev-running"), nullptr);
  EXPECT_EQ(core.result("nobody-1"), nullptr);
  EXPECT_EQ(core.result("nobody-2"), nullptr);
  EXPECT_NE(core.result("nobody-3"), nullptr);
  EXPECT_EQ(core.results().size(), 2u);
  EXPECT_EQ(core.counters().results_evicted, 2u);
}

TEST(BootstrapServerCoreLimits, EndpointEvents_OverCap_LatestKeptAndCounted) {
  BootstrapServerCore core(config(), lw::Profile::V1_0, {100000, /*max_endpoint_events=*/4});
  core.on_request(0, 1, bootstrap_request({"ep=v10-1"}));
  while (std::optional<Outgoing> out = core.poll_request(1))
    core.on_response(2, out->request_id, answer(lw::Code::Changed));
  const EndpointResult* r = core.result("v10-1");
  ASSERT_EQ(r->events.size(), 4u);
  EXPECT_EQ(r->events.back().kind, "outcome");
  EXPECT_EQ(r->events_evicted, 7);  // of 11: request, session, 4 x (tx, rx), outcome
  EXPECT_EQ(core.counters().endpoint_events_evicted, 7u);
}

TEST(BootstrapServerCoreLimits, Events_OverCap_OldestEvictedAndCounted) {
  BootstrapServerCore core(config(), lw::Profile::V1_0, {100000, 256, /*max_events=*/2});
  for (int i = 0; i < 5; ++i) core.on_request(i, 1, bootstrap_request({}));  // no ep
  ASSERT_EQ(core.events().size(), 2u);
  EXPECT_EQ(core.events().front().time_ms, 3);
  EXPECT_EQ(core.counters().events_evicted, 3u);
}

BootstrapLimits with_ttl(TimeMs ttl_ms) {
  BootstrapLimits limits;
  limits.result_ttl_ms = ttl_ms;
  return limits;
}

TEST(BootstrapServerCoreLimits, Results_OlderThanTtl_ExpiredAndCountedNewerAndRunningKept) {
  BootstrapServerCore core(config(), lw::Profile::V1_0, with_ttl(5000));
  core.on_request(1000, 1, bootstrap_request({"ep=dev-running"}));  // never answered
  core.on_request(1000, 2, bootstrap_request({"ep=nobody-old"}));   // ended at 1000
  core.on_request(3000, 2, bootstrap_request({"ep=nobody-new"}));   // ended at 3000
  EXPECT_EQ(core.next_deadline(), 6000);
  EXPECT_EQ(core.on_timeout(5999), 0u);
  EXPECT_NE(core.result("nobody-old"), nullptr);
  // Both results and the log's copies of their sessions, at their turn.
  EXPECT_EQ(core.on_timeout(6000), 2u);
  EXPECT_EQ(core.result("nobody-old"), nullptr);
  EXPECT_NE(core.result("nobody-new"), nullptr);
  EXPECT_NE(core.result("dev-running"), nullptr);
  EXPECT_EQ(core.counters().results_expired, 1u);
  EXPECT_EQ(core.counters().results_evicted, 0u);
  EXPECT_EQ(core.next_deadline(), 8000);
  EXPECT_EQ(core.on_timeout(8000), 2u);
  EXPECT_EQ(core.counters().results_expired, 2u);
  EXPECT_EQ(core.next_deadline(), std::nullopt);  // a running session never expires
  const ServerLog log = core.take_log(8000);
  EXPECT_TRUE(log.sessions.empty());
  EXPECT_EQ(log.dropped, 2u);
}

TEST(BootstrapServerCoreLimits, Results_ExpiredWhileThrottled_EndpointStartsWithFullBudget) {
  BootstrapServerCore core(config(), lw::Profile::V1_0, with_ttl(5000));
  for (int i = 0; i < BootstrapServerCore::kSessionBurst; ++i)
    core.on_request(1000, 1, bootstrap_request({"ep=nobody"}));
  EXPECT_EQ(core.on_request(1000, 1, bootstrap_request({"ep=nobody"})).code, lw::Code::Unavailable);
  core.on_timeout(6000);
  EXPECT_EQ(core.result("nobody"), nullptr);
  EXPECT_EQ(core.on_request(6000, 1, bootstrap_request({"ep=nobody"})).code, lw::Code::BadRequest);
  EXPECT_EQ(core.result("nobody")->sessions, 1);
}

TEST_F(BootstrapServerCoreTest, Finish_ErrorAnswer_FinishFailed) {
  request(1, {"ep=v10-1"});
  EXPECT_EQ(run(lw::Code::NotAcceptable), kWithFinish);
  EXPECT_EQ(outcome("v10-1"), Outcome::FinishFailed);
  EXPECT_NE(core_.result("v10-1")->reason.find("4.06"), std::string::npos);
}

// Answers Writes with `write_code`, Deletes with `delete_code`, the rest
// 2.04; returns what was sent.
std::vector<std::string> answer_all(BootstrapServerCore& core, TimeMs now, lw::Code write_code,
                                    lw::Code delete_code) {
  std::vector<std::string> sent;
  while (std::optional<Outgoing> out = core.poll_request(now)) {
    sent.push_back(line(out->request));
    lw::Code code = lw::Code::Changed;
    if (out->request.method == lw::Method::Put) code = write_code;
    if (out->request.method == lw::Method::Delete) code = delete_code;
    core.on_response(now, out->request_id, answer(code));
  }
  return sent;
}

TEST_F(BootstrapServerCoreTest, Write_ErrorAnswer_WriteRejectedNamingPathAndCode) {
  request(1, {"ep=v10-1"});
  const std::vector<std::string> sent =
      answer_all(core_, now_, lw::Code::BadRequest, lw::Code::Deleted);
  EXPECT_EQ(sent, (std::vector<std::string>{"DELETE /", "PUT /0/1"}));
  EXPECT_EQ(outcome("v10-1"), Outcome::WriteRejected);
  const EndpointResult& r = *core_.result("v10-1");
  EXPECT_EQ(r.error_responses, 1);
  EXPECT_EQ(r.finish_sent, 0);
  EXPECT_NE(r.reason.find("PUT /0/1"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("answered 4.00"), std::string::npos) << r.reason;
  EXPECT_EQ(outcomes_, std::vector<std::string>{"v10-1 WRITE_REJECTED"});
}

TEST_F(BootstrapServerCoreTest, Delete_ErrorAnswer_DeleteRejected) {
  request(1, {"ep=v10-1"});
  EXPECT_EQ(answer_all(core_, now_, lw::Code::Changed, lw::Code::MethodNotAllowed),
            std::vector<std::string>{"DELETE /"});
  EXPECT_EQ(outcome("v10-1"), Outcome::DeleteRejected);
  EXPECT_NE(core_.result("v10-1")->reason.find("DELETE / answered 4.05"), std::string::npos);
}

TEST_F(BootstrapServerCoreTest, OptionalCommands_ErrorAnswers_SessionContinuesToSuccess) {
  request(1, {"ep=opt-1"});
  std::vector<std::string> sent;
  while (std::optional<Outgoing> out = core_.poll_request(now_)) {
    sent.push_back(line(out->request));
    // The optional Delete and the optional /1/0/7 fail; the rest succeed.
    const bool optional =
        out->request.method == lw::Method::Delete || out->request.uri_path() == "/1/0/7";
    core_.on_response(now_, out->request_id,
                      answer(optional ? lw::Code::BadRequest : lw::Code::Changed));
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"DELETE /", "PUT /0/1", "PUT /1/0", "PUT /1/0/7",
                                            "POST /bs"}));
  EXPECT_EQ(outcome("opt-1"), Outcome::Success);
  const EndpointResult& r = *core_.result("opt-1");
  EXPECT_EQ(r.error_responses, 2);
  int failed = 0;
  for (const Event& e : r.events) failed += e.kind == "command_failed";
  EXPECT_EQ(failed, 2);
}

class NoDefaultProfileTest : public testing::Test {
 protected:
  NoDefaultProfileTest() : core_(config(), std::nullopt) {}
  std::vector<std::string> bootstrap(const std::string& ep, std::vector<std::string> query) {
    query.insert(query.begin(), "ep=" + ep);
    EXPECT_EQ(core_.on_request(now_, 1, bootstrap_request(query)).code, lw::Code::Changed);
    return answer_all(core_, now_, lw::Code::Changed, lw::Code::Deleted);
  }
  BootstrapServerCore core_;
  TimeMs now_ = 1000;
};

TEST_F(NoDefaultProfileTest, PlainRequest_ServedAs10WithFinish) {
  EXPECT_EQ(bootstrap("dev-1", {}), (std::vector<std::string>{"PUT /0/1", "PUT /1/0", "POST /bs"}));
  EXPECT_EQ(core_.result("dev-1")->profile, lw::Profile::V1_0);
  EXPECT_EQ(core_.result("dev-1")->content_format, lw::format::kTlv);
  EXPECT_EQ(core_.result("dev-1")->outcome, Outcome::Success);
}

TEST_F(NoDefaultProfileTest, FinishTrue_ServedAsCrWithFinish) {
  EXPECT_EQ(bootstrap("dev-1", {"Finish=true"}),
            (std::vector<std::string>{"PUT /0/1", "PUT /1/0", "POST /bs"}));
  EXPECT_EQ(core_.result("dev-1")->profile, lw::Profile::Cr);
}

TEST_F(NoDefaultProfileTest, ExplicitCrEntry_NoFinishWithoutFinishTrue) {
  EXPECT_EQ(bootstrap("cr-1", {}), kWithoutFinish);
  EXPECT_EQ(core_.result("cr-1")->profile, lw::Profile::Cr);
}

TEST_F(NoDefaultProfileTest, Pct_WritesInThatFormat_As11) {
  for (uint16_t pct : {lw::format::kSenmlJson, lw::format::kSenmlCbor, lw::format::kTlv}) {
    const std::string ep = "dev-" + std::to_string(pct);
    EXPECT_EQ(
        core_.on_request(now_, pct, bootstrap_request({"ep=" + ep, "pct=" + std::to_string(pct)}))
            .code,
        lw::Code::Changed);
    std::optional<Outgoing> out = core_.poll_request(now_);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->request.content_format, pct);
    const lw::ObjectDef& def = *lw::ObjectRegistry::builtin().find(lw::kSecurity);
    Result<lw::Instances> d =
        lw::content::decode_write(def, *lw::Path::parse("/0/1"), pct, out->request.payload.data(),
                                  out->request.payload.size());
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->at(1).at(lw::security::kUri).values.at(0),
              lw::Value(std::string("coap://127.0.0.1:5683")));
    EXPECT_EQ(core_.result(ep)->profile, lw::Profile::V1_1);
    EXPECT_EQ(core_.result(ep)->content_format, pct);
  }
}

TEST_F(NoDefaultProfileTest, PctWithFixedContentFormat_EntryWins) {
  core_.on_request(now_, 1, bootstrap_request({"ep=fixed-1", "pct=110"}));
  std::optional<Outgoing> out = core_.poll_request(now_);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->request.content_format, lw::format::kTlv);
  EXPECT_EQ(core_.result("fixed-1")->content_format, lw::format::kTlv);
}

TEST_F(NoDefaultProfileTest, BackToBackRequests_CountedThenThrottledThenRefilled) {
  for (int i = 0; i < BootstrapServerCore::kSessionBurst; ++i) {
    EXPECT_EQ(core_.on_request(now_, 1, bootstrap_request({"ep=dev-1"})).code, lw::Code::Changed);
  }
  // Each of those after the first cancelled its predecessor: back to back.
  EXPECT_EQ(core_.result("dev-1")->back_to_back, BootstrapServerCore::kSessionBurst - 1);
  EXPECT_EQ(core_.on_request(now_, 1, bootstrap_request({"ep=dev-1"})).code, lw::Code::Unavailable);
  EXPECT_EQ(core_.result("dev-1")->throttled, 1);
  EXPECT_EQ(core_.result("dev-1")->sessions, BootstrapServerCore::kSessionBurst);
  ASSERT_FALSE(core_.events().empty());
  EXPECT_EQ(core_.events().back().kind, "throttled");
  // Another endpoint is not affected; the same one may go on after a refill.
  EXPECT_EQ(core_.on_request(now_, 2, bootstrap_request({"ep=dev-2"})).code, lw::Code::Changed);
  now_ += BootstrapServerCore::kSessionRefillMs;
  EXPECT_EQ(core_.on_request(now_, 1, bootstrap_request({"ep=dev-1"})).code, lw::Code::Changed);
}

TEST_F(NoDefaultProfileTest, SessionAfterQuietGap_NotBackToBack) {
  bootstrap("dev-1", {});
  now_ += BootstrapServerCore::kBackToBackMs;
  bootstrap("dev-1", {});
  EXPECT_EQ(core_.result("dev-1")->sessions, 2);
  EXPECT_EQ(core_.result("dev-1")->back_to_back, 0);
}

TEST_F(NoDefaultProfileTest, MalformedFlood_NoticesRateLimitedAndSummed) {
  lw::Request no_ep = bootstrap_request({});
  for (int i = 0; i < 100; ++i) core_.on_request(now_, 1, no_ep);
  EXPECT_EQ(core_.events().size(), size_t{BootstrapServerCore::kNoticesPerSecond});
  EXPECT_EQ(core_.events()[0].kind, "rejected");
  ServerLog log = core_.take_log(now_ + 1000);
  ASSERT_EQ(log.notices.size(), size_t{BootstrapServerCore::kNoticesPerSecond} + 1);
  EXPECT_EQ(log.notices.back().kind, "suppressed");
  EXPECT_EQ(log.notices.back().detail.rfind("80 more", 0), 0u) << log.notices.back().detail;
  EXPECT_TRUE(core_.take_log(now_ + 1000).notices.empty());
}

TEST_F(NoDefaultProfileTest, TakeLog_EachEndedSessionOnce) {
  bootstrap("dev-1", {});
  bootstrap("dev-2", {});
  ServerLog log = core_.take_log(now_);
  ASSERT_EQ(log.sessions.size(), 2u);
  EXPECT_EQ(log.sessions[0].endpoint, "dev-1");
  EXPECT_EQ(log.sessions[0].outcome, Outcome::Success);
  EXPECT_TRUE(log.sessions[0].events.empty());
  EXPECT_EQ(log.dropped, 0u);
  EXPECT_TRUE(core_.take_log(now_).sessions.empty());
  now_ += 5000;
  bootstrap("dev-1", {});
  log = core_.take_log(now_);
  ASSERT_EQ(log.sessions.size(), 1u);
  EXPECT_EQ(log.sessions[0].sessions, 2);
}

TEST_F(BootstrapServerCoreTest, Write_Timeout_SessionTimesOut) {
  request(1, {"ep=v10-1"});
  std::optional<Outgoing> out = core_.poll_request(now_);
  core_.on_response(now_, out->request_id, answer(lw::Code::Deleted));
  out = core_.poll_request(now_);
  core_.on_failure(now_ + 93000, out->request_id, Failure::Timeout, "no answer");
  EXPECT_EQ(outcome("v10-1"), Outcome::Timeout);
  EXPECT_EQ(core_.result("v10-1")->ended_ms, now_ + 93000);
  EXPECT_FALSE(core_.poll_request(now_));
}

TEST_F(BootstrapServerCoreTest, Finish_Timeout_SessionTimesOut) {
  request(1, {"ep=v10-1"});
  for (int i = 0; i < 3; ++i) {
    core_.on_response(now_, core_.poll_request(now_)->request_id, answer(lw::Code::Changed));
  }
  std::optional<Outgoing> finish = core_.poll_request(now_);
  ASSERT_EQ(line(finish->request), "POST /bs");
  core_.on_failure(now_, finish->request_id, Failure::Timeout, "no answer");
  EXPECT_EQ(outcome("v10-1"), Outcome::Timeout);
  EXPECT_EQ(core_.result("v10-1")->finish_sent, 1);
}

TEST_F(BootstrapServerCoreTest, Request_SendError_RequestFailed) {
  request(1, {"ep=v10-1"});
  core_.on_failure(now_, core_.poll_request(now_)->request_id, Failure::SendError,
                   "network unreachable");
  EXPECT_EQ(outcome("v10-1"), Outcome::RequestFailed);
  EXPECT_NE(core_.result("v10-1")->reason.find("network unreachable"), std::string::npos);
}

TEST_F(BootstrapServerCoreTest, StartSession_ServerInitiated10_CommandsThenFinish) {
  EXPECT_TRUE(core_.start_session(now_, 3, "v10-9").ok());
  EXPECT_EQ(run(), kWithFinish);
  EXPECT_EQ(outcome("v10-9"), Outcome::Success);
}

TEST_F(BootstrapServerCoreTest, StartSession_UnknownEndpoint_NoBootstrapConfig) {
  EXPECT_FALSE(core_.start_session(now_, 3, "stranger").ok());
  EXPECT_EQ(outcome("stranger"), Outcome::NoBootstrapConfig);
}

lw::Response content(uint16_t format, const std::string& body) {
  lw::Response r = answer(lw::Code::Content);
  r.content_format = format;
  r.payload.assign(body.begin(), body.end());
  return r;
}

TEST_F(BootstrapServerCoreTest, DiscoverAndRead_AnswersRecordedInOrder_BeforeTheWrites) {
  request(1, {"ep=look-1", "pct=110"});
  std::optional<Outgoing> disc = core_.poll_request(++now_);
  ASSERT_TRUE(disc);
  EXPECT_EQ(line(disc->request), "GET /");
  EXPECT_EQ(disc->request.accept, lw::format::kLinkFormat);
  core_.on_response(++now_, disc->request_id, content(40, "</>;lwm2m=\"1.1\",</0/0>"));
  std::optional<Outgoing> read = core_.poll_request(++now_);
  ASSERT_TRUE(read);
  EXPECT_EQ(line(read->request), "GET /1");
  EXPECT_EQ(read->request.accept, lw::format::kSenmlJson);  // the session's format (pct)
  core_.on_response(++now_, read->request_id, content(110, "[]"));
  std::optional<Outgoing> acl = core_.poll_request(++now_);
  ASSERT_TRUE(acl);
  core_.on_response(++now_, acl->request_id, answer(lw::Code::MethodNotAllowed));  // optional
  EXPECT_EQ(run(), (std::vector<std::string>{"PUT /0/1", "PUT /1/0", "POST /bs"}));
  const EndpointResult& r = *core_.result("look-1");
  EXPECT_EQ(r.outcome, Outcome::Success);
  ASSERT_EQ(r.reads.size(), 3u);
  EXPECT_EQ(r.reads[0].op, "discover");
  EXPECT_EQ(r.reads[0].path, "/");
  EXPECT_EQ(r.reads[0].content_format, lw::format::kLinkFormat);
  EXPECT_EQ(std::string(r.reads[0].payload.begin(), r.reads[0].payload.end()),
            "</>;lwm2m=\"1.1\",</0/0>");
  EXPECT_EQ(r.reads[1].op, "read");
  EXPECT_EQ(r.reads[1].code, lw::Code::Content);
  EXPECT_EQ(r.reads[2].path, "/2");
  EXPECT_EQ(r.reads[2].code, lw::Code::MethodNotAllowed);
  EXPECT_EQ(r.error_responses, 1);
}

TEST_F(BootstrapServerCoreTest, Read_ErrorAnswer_ReadRejectedNamesIt) {
  request(1, {"ep=look-1"});
  std::optional<Outgoing> disc = core_.poll_request(++now_);
  core_.on_response(++now_, disc->request_id, content(40, "</>"));
  std::optional<Outgoing> read = core_.poll_request(++now_);
  EXPECT_EQ(read->request.accept, lw::format::kTlv);
  core_.on_response(++now_, read->request_id, answer(lw::Code::MethodNotAllowed));
  EXPECT_EQ(outcome("look-1"), Outcome::ReadRejected);
  EXPECT_EQ(core_.result("look-1")->reason, "GET /1 (accept 11542) answered 4.05");
}

TEST_F(BootstrapServerCoreTest, Discover_ErrorAnswer_DiscoverRejected) {
  request(1, {"ep=look-1"});
  std::optional<Outgoing> disc = core_.poll_request(++now_);
  core_.on_response(++now_, disc->request_id, answer(lw::Code::NotFound));
  EXPECT_EQ(outcome("look-1"), Outcome::DiscoverRejected);
  EXPECT_EQ(core_.result("look-1")->reads.at(0).code, lw::Code::NotFound);
}

TEST_F(BootstrapServerCoreTest, LastPeer_AfterASession_ItsPeer) {
  request(4, {"ep=v10-1"});
  run();
  Result<PeerId> peer = core_.last_peer("v10-1");
  ASSERT_TRUE(peer.ok()) << peer.error().message;
  EXPECT_EQ(*peer, 4u);
}

TEST_F(BootstrapServerCoreTest, LastPeer_NeverCameRunningOrRefused_ErrorSaysWhy) {
  Result<PeerId> never = core_.last_peer("v10-1");
  ASSERT_FALSE(never.ok());
  EXPECT_NE(never.error().message.find("'v10-1' has never come to this bootstrap server"),
            std::string::npos);
  request(4, {"ep=v10-1"});
  Result<PeerId> running = core_.last_peer("v10-1");
  ASSERT_FALSE(running.ok());
  EXPECT_NE(running.error().message.find("has a bootstrap session running"), std::string::npos);
  core_.refuse(now_, 5, "v10-2", "wrong key");
  Result<PeerId> refused = core_.last_peer("v10-2");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("UNAUTHORIZED"), std::string::npos);
}

TEST_F(BootstrapServerCoreTest, Session_Events_RecordRequestTxRxOutcome) {
  request(1, {"ep=v10-1", "pct=11542"});
  run();
  std::vector<std::string> kinds;
  for (const Event& e : core_.result("v10-1")->events) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"request", "session", "tx", "rx", "tx", "rx", "tx",
                                             "rx", "tx", "rx", "outcome"}));
  EXPECT_EQ(core_.result("v10-1")->events[0].detail, "POST /bs?ep=v10-1&pct=11542");
  EXPECT_EQ(core_.result("v10-1")->events.back().detail, "SUCCESS");
}

TEST(OutcomeToString, AllOutcomes_LeshanNames) {
  EXPECT_STREQ(to_string(Outcome::Success), "SUCCESS");
  EXPECT_STREQ(to_string(Outcome::NoBootstrapConfig), "NO_BOOTSTRAP_CONFIG");
  EXPECT_STREQ(to_string(Outcome::Unauthorized), "UNAUTHORIZED");
  EXPECT_STREQ(to_string(Outcome::RequestFailed), "REQUEST_FAILED");
  EXPECT_STREQ(to_string(Outcome::FinishFailed), "FINISH_FAILED");
  EXPECT_STREQ(to_string(Outcome::Timeout), "TIMEOUT");
  EXPECT_STREQ(to_string(Outcome::Cancelled), "CANCELLED");
  EXPECT_STREQ(to_string(Outcome::ReadRejected), "READ_REJECTED");
  EXPECT_STREQ(to_string(Outcome::DiscoverRejected), "DISCOVER_REJECTED");
  EXPECT_STREQ(to_string(Outcome::CertUntrusted), "CERT_UNTRUSTED");
  EXPECT_STREQ(to_string(Outcome::CertExpired), "CERT_EXPIRED");
  EXPECT_STREQ(to_string(Outcome::CertNameMismatch), "CERT_NAME_MISMATCH");
}

}  // namespace
}  // namespace hil::server
