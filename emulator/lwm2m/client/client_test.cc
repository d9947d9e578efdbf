#include "emulator/lwm2m/client/client.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/client/factory.h"
#include "emulator/lwm2m/client/test_requests.h"
#include "emulator/lwm2m/codec/content.h"

namespace hil::lwm2m {
namespace {

ObjectTree factory(int64_t hold_off_s = 0) {
  ObjectTree t;
  t.set(kSecurity, 0, security::kUri, std::string("coap://bs"));
  t.set(kSecurity, 0, security::kBootstrapServer, true);
  t.set(kSecurity, 0, security::kMode, security::kModeNoSec);
  t.set(kSecurity, 0, security::kHoldOff, hold_off_s);
  t.set(kDevice, 0, device::kManufacturer, std::string("lwm2m-hil"));
  t.set(kDevice, 0, device::kBindings, std::string("U"));
  return t;
}

Instance security_instance(int64_t ssid) {
  return {{security::kUri, Resource::single(std::string("coap://dm"))},
          {security::kBootstrapServer, Resource::single(false)},
          {security::kMode, Resource::single(security::kModeNoSec)},
          {security::kShortServerId, Resource::single(ssid)}};
}

Instance server_instance(int64_t ssid) {
  return {{server::kShortServerId, Resource::single(ssid)},
          {server::kLifetime, Resource::single(int64_t{300})},
          {server::kBinding, Resource::single(std::string("U"))}};
}

using test::finish;
using test::put;

constexpr Origin kBs{true, 0};

// Drives a client and keeps what it asked for.
struct Harness {
  explicit Harness(ClientConfig cfg, ObjectTree stored = factory())
      : client(std::move(cfg), std::move(stored)) {}

  void drain() {
    while (auto a = client.poll()) {
      if (auto* s = std::get_if<SendRequest>(&*a)) sent.push_back(*s);
      if (auto* e = std::get_if<Event>(&*a)) events.push_back(*e);
      if (auto* c = std::get_if<Commit>(&*a)) {
        commits.push_back(*c);
        if (flash_full) client.commit_failed(now, "flash full");
      }
    }
  }
  bool sent_to(const std::string& path) const {
    for (const SendRequest& s : sent)
      if (s.request.uri_path() == path) return true;
    return false;
  }
  void advance(TimeMs to) {
    while (client.next_deadline() && *client.next_deadline() <= to) {
      now = *client.next_deadline();
      client.on_timeout(now);
      drain();
    }
    now = to;
  }
  Response request(const Request& r, Origin from = kBs) {
    Response resp = client.on_request(now, from, r);
    drain();
    return resp;
  }
  void answer_last(Code code, std::vector<std::string> location = {}) {
    client.on_response(now, sent.back().id, Response{code, {}, {}, std::move(location)});
    drain();
  }
  // Request Bootstrap answered 2.04, then a complete account written.
  void bootstrap_to_writes() {
    client.start(now);
    drain();
    advance(now);
    answer_last(Code::Changed);
    EXPECT_EQ(request(put(kSecurity, 1, security_instance(7))).code, Code::Changed);
    EXPECT_EQ(request(put(kServer, 0, server_instance(7))).code, Code::Changed);
  }
  // Bootstrap, Finish, and a Register the server accepts.
  void bootstrap_and_register() {
    bootstrap_to_writes();
    request(finish());
    advance(now);
    answer_last(Code::Created, {"rd", "1"});
    ASSERT_EQ(client.state(), State::Registered);
  }

  Client client;
  bool flash_full = false;  // every Commit fails
  TimeMs now = 1000;
  std::vector<SendRequest> sent;
  std::vector<Commit> commits;
  std::vector<Event> events;
};

ClientConfig config(Profile p = Profile::Cr, bool request_finish = true) {
  ClientConfig c;
  c.endpoint = "dev-1";
  c.profile = p;
  c.request_finish = request_finish;
  c.idle_timeout_ms = 2000;
  c.finish_timeout_ms = 10000;
  c.seed = 42;
  return c;
}

TEST(Client, Start_ProfileCrWithFinish_RequestCarriesFinishTrue) {
  Harness h(config());
  h.client.start(h.now);
  h.drain();
  h.advance(h.now);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0].request.uri_path(), "/bs");
  EXPECT_EQ(h.sent[0].request.query, (std::vector<std::string>{"ep=dev-1", "Finish=true"}));
  EXPECT_TRUE(h.sent[0].to.bootstrap);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
}

TEST(Client, Start_Profiles10And11_QueryPerProfile) {
  Harness a(config(Profile::V1_0));
  a.client.start(0);
  a.drain();
  a.advance(0);
  EXPECT_EQ(a.sent[0].request.query, (std::vector<std::string>{"ep=dev-1"}));
  Harness b(config(Profile::V1_1));
  b.client.start(0);
  b.drain();
  b.advance(0);
  EXPECT_EQ(b.sent[0].request.query, (std::vector<std::string>{"ep=dev-1", "pct=11542"}));
}

TEST(Client, Start_HoldOff_DelaysFirstRequest) {
  Harness h(config(), factory(3));
  h.client.start(h.now);
  h.drain();
  EXPECT_EQ(h.client.next_deadline(), 4000);
  h.advance(3999);
  EXPECT_TRUE(h.sent.empty());
  h.advance(4000);
  EXPECT_EQ(h.sent.size(), 1u);
}

TEST(Client, Finish_Consistent_CommitsThenExitsAndRegisters) {
  Harness h(config());
  h.bootstrap_to_writes();
  EXPECT_TRUE(h.commits.empty());
  EXPECT_EQ(h.request(finish()).code, Code::Changed);
  ASSERT_EQ(h.commits.size(), 1u);
  EXPECT_TRUE(h.commits[0].config.instance(kSecurity, 1) != nullptr);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Finish);
  h.advance(h.now);
  ASSERT_EQ(h.sent.back().request.uri_path(), "/rd");
  EXPECT_EQ(h.sent.back().to.uri, "coap://dm");
  EXPECT_EQ(h.sent.back().request.query[1], "lt=300");
  h.answer_last(Code::Created, {"rd", "x1"});
  EXPECT_EQ(h.client.state(), State::Registered);
}

TEST(Client, Finish_CommitFails_StaysInBootstrapWithStaged_NextFinishExits) {
  Harness h(config());
  h.flash_full = true;
  h.bootstrap_to_writes();
  h.request(finish());  // the host answers 5.00: not durable, not acknowledged
  ASSERT_EQ(h.commits.size(), 1u);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::None);
  ASSERT_NE(h.client.staged(), nullptr);
  EXPECT_NE(h.client.staged()->instance(kSecurity, 1), nullptr);
  EXPECT_EQ(h.client.objects().instance(kSecurity, 1), nullptr);  // nothing went live
  EXPECT_FALSE(h.sent_to("/rd"));
  EXPECT_EQ(h.events.back().kind, "commit_failed");
  // The flash has room again; the bootstrap server sends Finish again.
  h.flash_full = false;
  h.request(finish());
  EXPECT_EQ(h.commits.size(), 2u);
  EXPECT_EQ(h.client.exit_counts().at(BootstrapExit::Finish), 1);
  EXPECT_NE(h.client.objects().instance(kSecurity, 1), nullptr);
  h.advance(h.now);
  EXPECT_TRUE(h.sent_to("/rd"));
}

TEST(Client, Finish_CommitFailsEveryTime_FinishTimeoutDiscardsAndRetries) {
  Harness h(config());
  h.flash_full = true;
  h.bootstrap_to_writes();
  h.request(finish());
  h.advance(h.now + 10000);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::FinishTimeout);
  EXPECT_EQ(h.client.staged(), nullptr);
  EXPECT_FALSE(h.sent_to("/rd"));
}

TEST(Client, IdleTimer_CommitFails_GuessesAgainLater) {
  Harness h(config(Profile::Cr, /*request_finish=*/false));
  h.flash_full = true;
  h.bootstrap_to_writes();
  h.advance(h.now + 2000);
  EXPECT_EQ(h.commits.size(), 1u);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  h.flash_full = false;
  h.advance(h.now + 2000);
  EXPECT_EQ(h.commits.size(), 2u);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::IdleTimeout);
}

TEST(Client, Finish_OnlyServerLifetimeWritten_Answers406AndStays) {
  // ETS 1.1-int-9.
  Harness h(config(Profile::V1_1));
  h.client.start(h.now);
  h.drain();
  h.advance(h.now);
  h.answer_last(Code::Changed);
  Request w;
  w.method = Method::Put;
  w.path = {"1", "0", "1"};
  w.content_format = format::kText;
  w.payload = {'6', '0'};
  EXPECT_EQ(h.request(w).code, Code::Changed);
  EXPECT_EQ(h.request(finish()).code, Code::NotAcceptable);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  EXPECT_TRUE(h.commits.empty());
  // The server corrects the configuration and sends Finish again.
  h.request(put(kSecurity, 1, security_instance(1)));
  h.request(put(kServer, 0, server_instance(1)));
  EXPECT_EQ(h.request(finish()).code, Code::Changed);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Finish);
}

TEST(Client, Finish_AfterExit_Answers405AndDoesNotExitAgain) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  h.advance(h.now);
  h.answer_last(Code::Created, {"rd", "a"});
  EXPECT_EQ(h.request(finish()).code, Code::MethodNotAllowed);
  EXPECT_EQ(h.client.exit_counts().at(BootstrapExit::Finish), 1);
  EXPECT_EQ(h.commits.size(), 1u);
  EXPECT_EQ(h.client.state(), State::Registered);
}

TEST(Client, IdleTimer_ProfileCrWithoutFinish_ExitsIdleTimeout) {
  Harness h(config(Profile::Cr, false));
  h.bootstrap_to_writes();
  EXPECT_EQ(h.sent[0].request.query, (std::vector<std::string>{"ep=dev-1"}));
  h.advance(h.now + 1999);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  h.advance(h.now + 1);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::IdleTimeout);
  EXPECT_EQ(h.commits.size(), 1u);
}

TEST(Client, IdleTimer_WithFinishRequested_NeverExitsEarly) {
  Harness h(config(Profile::Cr, true));
  h.bootstrap_to_writes();
  h.advance(h.now + 9999);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::None);
}

TEST(Client, FinishTimeout_NoFinish_DiscardsStagedAndRetries) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_to_writes();
  TimeMs last_command = h.now;
  h.advance(last_command + 10000);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::FinishTimeout);
  EXPECT_TRUE(h.commits.empty());
  EXPECT_EQ(h.client.objects().instance(kSecurity, 1), nullptr);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  size_t before = h.sent.size();
  h.advance(h.now + 130000);
  EXPECT_EQ(h.sent.size(), before + 1);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/bs");
}

TEST(Client, Delete_Root_KeepsBootstrapAccountAndDevice) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_to_writes();
  Request d;
  d.method = Method::Delete;
  EXPECT_EQ(h.request(d).code, Code::Deleted);
  const ObjectTree* s = h.client.staged();
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->instance(kSecurity, 0), nullptr);
  EXPECT_EQ(s->instance(kSecurity, 1), nullptr);
  EXPECT_EQ(s->instance(kServer, 0), nullptr);
  EXPECT_NE(s->instance(kDevice, 0), nullptr);
}

TEST(Client, Delete_BootstrapAccountAlone_RefusedPerProfile) {
  Harness a(config(Profile::V1_0));
  a.bootstrap_to_writes();
  Request d;
  d.method = Method::Delete;
  d.path = {"0", "0"};
  EXPECT_EQ(a.request(d).code, Code::BadRequest);
  d.path = {"3", "0"};
  EXPECT_EQ(a.request(d).code, Code::BadRequest);
  Harness b(config(Profile::Cr));
  b.bootstrap_to_writes();
  d.path = {"0", "0"};
  EXPECT_EQ(b.request(d).code, Code::MethodNotAllowed);
}

TEST(Client, Write_MalformedTlv_400AndStagedUnchanged) {
  Harness h(config());
  h.bootstrap_to_writes();
  ObjectTree before = *h.client.staged();
  Request w = put(kServer, 1, server_instance(9));
  w.payload.resize(w.payload.size() - 2);
  EXPECT_EQ(h.request(w).code, Code::BadRequest);
  EXPECT_TRUE(*h.client.staged() == before);
}

TEST(Client, Write_FormatNotDecodedHere_415AndStagedUnchanged) {
  Harness h(config());
  h.bootstrap_to_writes();
  ObjectTree before = *h.client.staged();
  Request w = put(kServer, 1, server_instance(9));
  w.content_format = format::kLinkFormat;  // a format, but not one a Write carries
  EXPECT_EQ(h.request(w).code, Code::UnsupportedFormat);
  EXPECT_TRUE(*h.client.staged() == before);
}

TEST(Client, Discover_Root_ListsInstancesWithSsid) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_to_writes();
  Request g;
  g.method = Method::Get;
  g.accept = format::kLinkFormat;
  Response r = h.request(g);
  EXPECT_EQ(r.code, Code::Content);
  std::string text(r.payload.begin(), r.payload.end());
  EXPECT_NE(text.find("</0/1>;ssid=7"), std::string::npos) << text;
  EXPECT_NE(text.find("</3/0>"), std::string::npos) << text;
}

Request get(std::vector<std::string> path, std::optional<uint16_t> accept = std::nullopt) {
  Request g;
  g.method = Method::Get;
  g.path = std::move(path);
  g.accept = accept;
  return g;
}

TEST(Client, BootstrapRead11_ServerInstance_TlvOrSenmlByAccept) {
  Harness h(config(Profile::V1_1));
  h.bootstrap_to_writes();
  Response tlv = h.request(get({"1", "0"}));
  ASSERT_EQ(tlv.code, Code::Content);
  EXPECT_EQ(tlv.content_format, format::kTlv);
  const ObjectDef& def = *ObjectRegistry::builtin().find(kServer);
  auto data = content::decode_write(def, Path{kServer, 0, {}, {}}, format::kTlv, tlv.payload.data(),
                                    tlv.payload.size());
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->at(0).at(server::kShortServerId).values.at(0), Value(int64_t{7}));
  Response senml = h.request(get({"1", "0"}, format::kSenmlJson));
  ASSERT_EQ(senml.code, Code::Content);
  EXPECT_EQ(senml.content_format, format::kSenmlJson);
  std::string text(senml.payload.begin(), senml.payload.end());
  EXPECT_NE(text.find("\"bn\":\"/1/0/\""), std::string::npos) << text;
}

TEST(Client, BootstrapRead11_SecurityDeviceMissingOrBadAccept_Refused) {
  Harness h(config(Profile::V1_1));
  h.bootstrap_to_writes();
  EXPECT_EQ(h.request(get({"0"})).code, Code::MethodNotAllowed);  // keys are never read
  EXPECT_EQ(h.request(get({"0", "1"})).code, Code::MethodNotAllowed);
  EXPECT_EQ(h.request(get({"3", "0"})).code, Code::MethodNotAllowed);
  EXPECT_EQ(h.request(get({"1", "0", "1"})).code, Code::MethodNotAllowed);
  EXPECT_EQ(h.request(get({"1", "5"})).code, Code::NotFound);
  EXPECT_EQ(h.request(get({"1"}, format::kText)).code, Code::NotAcceptable);
}

TEST(Client, Discover11_SecurityInstances_CarrySsidAndUri) {
  Harness h(config(Profile::V1_1));
  h.bootstrap_to_writes();
  Response r = h.request(get({}, format::kLinkFormat));
  ASSERT_EQ(r.code, Code::Content);
  std::string text(r.payload.begin(), r.payload.end());
  EXPECT_EQ(text.rfind("</>;lwm2m=\"1.1\",</0/0>,</0/1>;ssid=7;uri=\"coap://dm\",</1/0>;ssid=7", 0),
            0u)
      << text;
}

TEST(Client, BootstrapRead10_NotAnOperationOf10_MethodNotAllowed) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_to_writes();
  EXPECT_EQ(h.request(get({"1"})).code, Code::MethodNotAllowed);
}

TEST(Client, Discover10_OutsideBootstrap_AnsweredFromLiveAndStaysRegistered) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_and_register();
  Response r = h.request(get({}, format::kLinkFormat));
  ASSERT_EQ(r.code, Code::Content);
  std::string text(r.payload.begin(), r.payload.end());
  EXPECT_EQ(text.rfind("</>;lwm2m=\"1.0\"", 0), 0u) << text;
  EXPECT_NE(text.find("</1/0>;ssid=7"), std::string::npos) << text;
  EXPECT_EQ(h.client.state(), State::Registered);
  EXPECT_EQ(h.client.staged(), nullptr);
}

TEST(Client, RequestBootstrap_Rejected_ExitRejectedAndRetry) {
  Harness h(config());
  h.client.start(h.now);
  h.drain();
  h.advance(h.now);
  h.answer_last(Code::BadRequest);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Rejected);
  ASSERT_TRUE(h.client.next_deadline());
  EXPECT_GE(*h.client.next_deadline(), h.now + 1000);  // initial 2 s, jitter 0.5
}

ClientConfig with_fallback(bool on) {
  ClientConfig c = config();
  c.finish_fallback = on;
  return c;
}

// Started, its Request Bootstrap (Finish=true) answered `code`.
void refuse_first_request(Harness& h, Code code) {
  h.client.start(h.now);
  h.drain();
  h.advance(h.now);
  ASSERT_EQ(h.sent.size(), 1u);
  h.answer_last(code);
}

TEST(Client, FinishFallback_FinishRefused400Or402_AsksOnceWithoutFinishAndExitsIdleTimeout) {
  for (Code refusal : {Code::BadRequest, Code::BadOption}) {
    Harness h(with_fallback(true));
    refuse_first_request(h, refusal);
    ASSERT_EQ(h.sent.size(), 2u) << to_string(refusal);  // at once, no backoff
    EXPECT_EQ(h.sent[1].request.query, (std::vector<std::string>{"ep=dev-1"}));
    EXPECT_TRUE(h.client.exit_counts().empty());  // the refusal is no exit
    bool told = false;
    for (const Event& e : h.events) told |= e.kind == "finish_fallback";
    EXPECT_TRUE(told);
    h.answer_last(Code::Changed);
    EXPECT_EQ(h.request(put(kSecurity, 1, security_instance(7))).code, Code::Changed);
    EXPECT_EQ(h.request(put(kServer, 0, server_instance(7))).code, Code::Changed);
    h.advance(h.now + 1999);  // the idle timer (2 s), not the finish timeout
    EXPECT_EQ(h.client.state(), State::Bootstrapping);
    h.advance(h.now + 1);
    EXPECT_EQ(h.client.exit_counts(),
              (std::map<BootstrapExit, int>{{BootstrapExit::IdleTimeout, 1}}));
    EXPECT_TRUE(h.sent_to("/rd"));
  }
}

TEST(Client, FinishFallback_Off_RefusalIsRejectedAndRetriedWithFinish) {
  Harness h(with_fallback(false));
  refuse_first_request(h, Code::BadRequest);
  EXPECT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Rejected);
  bool hinted = false;
  for (const Event& e : h.events)
    hinted |= e.kind == "bootstrap_failed" && e.detail.find("finish_fallback") != std::string::npos;
  EXPECT_TRUE(hinted);
  h.advance(*h.client.next_deadline());
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[1].request.query, (std::vector<std::string>{"ep=dev-1", "Finish=true"}));
}

TEST(Client, FinishFallback_RefusedWithoutFinishToo_RejectedAndNextAttemptAsksFinishAgain) {
  Harness h(with_fallback(true));
  refuse_first_request(h, Code::BadRequest);
  h.answer_last(Code::BadRequest);  // an unknown endpoint, not an unknown query
  EXPECT_EQ(h.client.exit_counts(), (std::map<BootstrapExit, int>{{BootstrapExit::Rejected, 1}}));
  h.advance(*h.client.next_deadline());
  ASSERT_EQ(h.sent.size(), 3u);
  EXPECT_EQ(h.sent[2].request.query, (std::vector<std::string>{"ep=dev-1", "Finish=true"}));
  EXPECT_EQ(h.events.back().detail, "attempt 2");  // the fallback was part of attempt 1
}

TEST(Client, FinishFallback_OtherRefusal_NoFallback) {
  Harness h(with_fallback(true));
  refuse_first_request(h, Code::Forbidden);
  EXPECT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Rejected);
}

TEST(Client, Register_FailsItsAttempts_FallsBackToBootstrap) {
  // ETS 1.1-int-7.
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  for (int i = 0; i < 3; ++i) {
    h.advance(*h.client.next_deadline());
    ASSERT_EQ(h.sent.back().request.uri_path(), "/rd");
    h.client.on_failure(h.now, h.sent.back().id, "timeout");
    h.drain();
  }
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  h.advance(*h.client.next_deadline());
  EXPECT_EQ(h.sent.back().request.uri_path(), "/bs");
}

TEST(Client, Start_StoredServerAccount_RegistersWithoutBootstrap) {
  // ETS 1.1-int-6.
  ObjectTree t = factory();
  t.merge_instance(kSecurity, 1, security_instance(3));
  t.merge_instance(kServer, 0, server_instance(3));
  Harness h(config(), t);
  h.client.start(h.now);
  h.drain();
  h.advance(h.now);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0].request.uri_path(), "/rd");
}

TEST(Client, ServerInitiated10_WriteWhileRegistered_OpensBootstrapFinishCommitsAndReregisters) {
  Harness h(config(Profile::V1_0));
  h.bootstrap_and_register();
  // The bootstrap server writes a new lifetime without being asked.
  Instance longer = server_instance(7);
  longer[server::kLifetime] = Resource::single(int64_t{900});
  EXPECT_EQ(h.request(put(kServer, 0, longer)).code, Code::Changed);
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
  EXPECT_EQ(h.client.objects().get<int64_t>(kServer, 0, server::kLifetime), 300);  // staged only
  EXPECT_EQ(h.request(finish()).code, Code::Changed);
  ASSERT_EQ(h.commits.size(), 2u);
  EXPECT_EQ(h.client.last_exit(), BootstrapExit::Finish);
  EXPECT_EQ(h.client.objects().get<int64_t>(kServer, 0, server::kLifetime), 900);
  h.advance(h.now);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/rd");
  EXPECT_EQ(h.sent.back().request.query[1], "lt=900");
  int opened = 0;
  for (const Event& e : h.events) opened += e.kind == "bootstrap_server_initiated";
  EXPECT_EQ(opened, 1);
}

TEST(Client, ServerInitiated_NotIn11OrCr_WriteOutsideBootstrapIgnored) {
  for (Profile p : {Profile::V1_1, Profile::Cr}) {
    Harness h(config(p));
    h.bootstrap_to_writes();
    h.request(finish());
    EXPECT_EQ(h.request(put(kServer, 0, server_instance(7))).code, Code::MethodNotAllowed);
    EXPECT_NE(h.client.state(), State::Bootstrapping);
  }
}

TEST(Client, ServerWrite_SecurityObject_Unauthorized) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  Request w = put(kSecurity, 1, security_instance(7));
  EXPECT_EQ(h.request(w, Origin{false, 7}).code, Code::Unauthorized);
}

TEST(Client, ServerDeleteOrFinish_BootstrapOperations_UnauthorizedAndRecorded) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  const State before = h.client.state();
  Request d;
  d.method = Method::Delete;
  d.path = {"1", "0"};
  EXPECT_EQ(h.request(d, Origin{false, 7}).code, Code::Unauthorized);
  EXPECT_EQ(h.request(finish(), Origin{false, 7}).code, Code::Unauthorized);
  EXPECT_EQ(h.client.state(), before);
  EXPECT_TRUE(h.client.objects().instance(kServer, 0));
  int refused = 0;
  for (const Event& e : h.events) refused += e.kind == "refused";
  EXPECT_EQ(refused, 2);
}

TEST(Client, Update_AtHalfLifetime_ThenForgottenRegistrationReregisters) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  h.advance(h.now);
  h.answer_last(Code::Created, {"rd", "5"});
  TimeMs registered_at = h.now;
  h.advance(registered_at + 149'999);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/rd");
  h.advance(registered_at + 150'000);  // lifetime 300 s
  EXPECT_EQ(h.sent.back().request.method, Method::Post);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/rd/5");
  h.answer_last(Code::NotFound);
  h.advance(h.now);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/rd");
  EXPECT_EQ(h.sent.back().request.query[0], "ep=dev-1");
}

TEST(Client, Execute_BootstrapTrigger_RequestsBootstrapAfterAnswering) {
  // ETS 1.1-int-5: the server triggers bootstrap with Execute /1/x/9.
  Harness h(config(Profile::V1_1));
  h.bootstrap_to_writes();
  h.request(finish());
  h.advance(h.now);
  h.answer_last(Code::Created, {"rd", "5"});
  Request x;
  x.method = Method::Post;
  x.path = {"1", "0", "9"};
  size_t before = h.sent.size();
  EXPECT_EQ(h.request(x, Origin{false, 7}).code, Code::Changed);
  EXPECT_EQ(h.sent.size(), before);  // the answer leaves first
  h.advance(h.now);
  EXPECT_EQ(h.sent.back().request.uri_path(), "/bs");
  EXPECT_EQ(h.client.state(), State::Bootstrapping);
}

TEST(Client, ServerRead_DeviceObject_ContentInTlv) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  Request g;
  g.method = Method::Get;
  g.path = {"3", "0"};
  Response r = h.request(g, Origin{false, 7});
  EXPECT_EQ(r.code, Code::Content);
  EXPECT_EQ(r.content_format, format::kTlv);
  auto data =
      content::decode_write(*ObjectRegistry::builtin().find(kDevice), Path{kDevice, 0, {}, {}},
                            format::kTlv, r.payload.data(), r.payload.size());
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::get<std::string>(data->at(0).at(device::kManufacturer).values.at(0)), "lwm2m-hil");
}

TEST(Client, ServerRead_MissingResource_NotFound) {
  Harness h(config());
  h.bootstrap_to_writes();
  h.request(finish());
  for (std::vector<std::string> path : {std::vector<std::string>{"1", "0", "99"},
                                        {"3", "0", "200"},
                                        {"3", "7"},
                                        {"3", "0", "0", "5"}}) {
    Request g;
    g.method = Method::Get;
    g.path = path;
    EXPECT_EQ(h.request(g, Origin{false, 7}).code, Code::NotFound) << path[1] << "/" << path.back();
  }
}

TEST(Backoff, Next_GrowsWithJitterUpToCap) {
  Backoff b({1000, 2.0, 5000, 0.5}, 1);
  TimeMs d0 = b.next(), d1 = b.next(), d2 = b.next(), d3 = b.next(), d4 = b.next();
  EXPECT_TRUE(d0 >= 500 && d0 <= 1000);
  EXPECT_TRUE(d1 >= 1000 && d1 <= 2000);
  EXPECT_TRUE(d2 >= 2000 && d2 <= 4000);
  EXPECT_TRUE(d3 >= 2500 && d3 <= 5000);
  EXPECT_TRUE(d4 >= 2500 && d4 <= 5000);
  Backoff other({1000, 2.0, 5000, 0.5}, 2);
  EXPECT_NE(other.next(), d0);  // seeds spread a fleet
}

}  // namespace
}  // namespace hil::lwm2m

namespace hil::lwm2m {
namespace {

TEST(FactoryTree, PskBootstrapAccount_IdentityNamesTheEndpoint) {
  Factory f;
  f.bootstrap_uri = "coaps://bs";
  f.bootstrap_psk_identity = "id-{endpoint}";
  f.bootstrap_psk_key = {1, 2};
  ObjectTree t = factory_tree(f, "dev-7");
  EXPECT_EQ(t.get<int64_t>(kSecurity, 0, security::kMode), security::kModePsk);
  EXPECT_EQ(t.get<Bytes>(kSecurity, 0, security::kIdentity),
            (Bytes{'i', 'd', '-', 'd', 'e', 'v', '-', '7'}));
  EXPECT_EQ(t.get<std::string>(kDevice, 0, device::kSerial), "dev-7");
  EXPECT_EQ(t.instance(kServer, 0), nullptr);
}

TEST(FactoryTree, WithEndpoint_PlaceholderReplacedOnce) {
  EXPECT_EQ(with_endpoint("id-{endpoint}-x", "dev-1"), "id-dev-1-x");
  EXPECT_EQ(with_endpoint("fixed", "dev-1"), "fixed");
}

TEST(FactoryTree, ServerAccountOnly_NoBootstrapAccount) {
  Factory f;
  f.server_uri = "coap://dm";
  f.server_ssid = 9;
  ObjectTree t = factory_tree(f, "dev-1");
  EXPECT_EQ(t.instance(kSecurity, 0), nullptr);
  EXPECT_EQ(t.get<int64_t>(kServer, 0, server::kShortServerId), 9);
  EXPECT_EQ(t.get<bool>(kSecurity, 1, security::kBootstrapServer), false);
}

}  // namespace
}  // namespace hil::lwm2m
