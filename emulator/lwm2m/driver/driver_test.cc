// The driver around a real client core, with a transport, a store and
// timers written for the test: what reaches the store before an answer
// leaves, the watchdog of an exchange nobody settles, and the bootstrap
// session's linger.
#include "emulator/lwm2m/driver/driver.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "emulator/lwm2m/client/test_requests.h"

namespace hil::lwm2m {
namespace {

class TestClock final : public Clock {
 public:
  TimeMs now_ms() const override { return now; }
  TimeMs now = 1000;
};

// Timers that run only when the test moves the clock.
class TestTimers final : public Timers {
 public:
  Id at(TimeMs when, std::function<void()> fn) override {
    timers_[++last_] = {when, std::move(fn)};
    return last_;
  }
  void cancel(Id id) override { timers_.erase(id); }
  const Clock& clock() const override { return clock_; }
  void advance(TimeMs to) {
    for (;;) {
      auto next = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it)
        if (it->second.first <= to &&
            (next == timers_.end() || it->second.first < next->second.first))
          next = it;
      if (next == timers_.end()) break;
      clock_.now = next->second.first;
      auto fn = std::move(next->second.second);
      timers_.erase(next);
      fn();
    }
    clock_.now = to;
  }
  TimeMs now() const { return clock_.now; }

 private:
  TestClock clock_;
  Id last_ = 0;
  std::map<Id, std::pair<TimeMs, std::function<void()>>> timers_;
};

struct Host final : Transport, Store, Driver::Listener {
  void send(const SendRequest& req) override {
    sent.push_back(req);
    driver->sent(req, false);
  }
  Status notify(const Notify&) override { return ok_status(); }
  bool close(const std::string& key) override {
    closed.push_back(key);
    return true;
  }
  Status commit(const ObjectTree& config) override {
    if (commit_error) return *commit_error;
    committed.push_back(config);
    return ok_status();
  }
  void on_event(Event e) override { events.push_back(e.kind); }
  void on_change(State) override {}
  void on_power_lost() override {
    power_lost = true;
    driver->stop();
  }
  bool recorded(const std::string& kind) const {
    for (const std::string& k : events)
      if (k == kind) return true;
    return false;
  }

  Driver* driver = nullptr;
  std::vector<SendRequest> sent;
  std::vector<std::string> closed;
  std::vector<ObjectTree> committed;
  std::optional<Error> commit_error;
  std::vector<std::string> events;
  bool power_lost = false;
};

ObjectTree factory() {
  ObjectTree t;
  t.set(kSecurity, 0, security::kUri, std::string("coap://bs"));
  t.set(kSecurity, 0, security::kBootstrapServer, true);
  t.set(kSecurity, 0, security::kMode, security::kModeNoSec);
  t.set(kDevice, 0, device::kManufacturer, std::string("lwm2m-hil"));
  t.set(kDevice, 0, device::kBindings, std::string("U"));
  return t;
}

using test::finish;

constexpr Origin kBs{true, 0};
constexpr TimeMs kWait = 10'000;
constexpr TimeMs kLinger = 4'000;

struct Fixture {
  Fixture() : driver(client(), options(), timers, host, host, host) {
    host.driver = &driver;
    driver.start(factory());
  }
  static ClientConfig client() {
    ClientConfig c;
    c.endpoint = "dev-1";
    c.seed = 42;
    return c;
  }
  static DriverConfig options() {
    DriverConfig d;
    d.max_transmit_wait_ms = kWait;
    d.bootstrap_linger_ms = kLinger;
    return d;
  }
  // Request Bootstrap answered, a server account written; Finish is next.
  void bootstrap_to_finish() {
    timers.advance(timers.now());
    ASSERT_EQ(host.sent.size(), 1u);
    driver.on_response(host.sent[0].id, Response{Code::Changed, {}, {}, {}});
    Instance security{{security::kUri, Resource::single(std::string("coap://dm"))},
                      {security::kBootstrapServer, Resource::single(false)},
                      {security::kMode, Resource::single(security::kModeNoSec)},
                      {security::kShortServerId, Resource::single(int64_t{7})}};
    Instance server{{server::kShortServerId, Resource::single(int64_t{7})},
                    {server::kLifetime, Resource::single(int64_t{300})},
                    {server::kBinding, Resource::single(std::string("U"))}};
    Request w = test::put(kSecurity, 0, security);
    w.path = {"0", "1"};
    w.payload = content::encode(*ObjectRegistry::builtin().find(kSecurity),
                                Path{kSecurity, 1, {}, {}}, Instances{{1, security}}, format::kTlv)
                    .value();
    ASSERT_EQ(driver.on_request(kBs, w)->code, Code::Changed);
    ASSERT_EQ(driver.on_request(kBs, test::put(kServer, 0, server))->code, Code::Changed);
  }

  TestTimers timers;
  Host host;
  Driver driver;
};

TEST(Driver, Finish_Committed_BeforeTheAnswerLeaves) {
  Fixture f;
  f.bootstrap_to_finish();
  std::optional<Response> answer = f.driver.on_request(kBs, finish());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->code, Code::Changed);
  EXPECT_EQ(f.host.committed.size(), 1u);
  EXPECT_NE(f.driver.state(), State::Bootstrapping);
}

TEST(Driver, Finish_CommitFails_Answers500AndStaysInBootstrap) {
  Fixture f;
  f.bootstrap_to_finish();
  f.host.commit_error = Error{ErrorCode::kResourceExhausted, "flash full"};
  std::optional<Response> answer = f.driver.on_request(kBs, finish());
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->code, Code::InternalError);
  EXPECT_EQ(f.driver.state(), State::Bootstrapping);
}

TEST(Driver, Finish_PowerLostInCommit_AnswersNothing) {
  Fixture f;
  f.bootstrap_to_finish();
  f.host.commit_error = Error{ErrorCode::kPowerLost, "cut"};
  EXPECT_FALSE(f.driver.on_request(kBs, finish()));
  EXPECT_TRUE(f.host.power_lost);
  EXPECT_FALSE(f.driver.running());
}

TEST(Driver, Exchange_NeitherAnswerNorGiveUp_ResetsSessionAndFailsRequest) {
  Fixture f;
  f.timers.advance(f.timers.now());
  ASSERT_EQ(f.host.sent.size(), 1u);
  f.timers.advance(f.timers.now() + kWait);  // libcoap still has time to give up
  EXPECT_TRUE(f.host.closed.empty());
  f.timers.advance(f.timers.now() + 1000);
  EXPECT_EQ(f.host.closed, std::vector<std::string>{"bs coap://bs"});
  EXPECT_TRUE(f.host.recorded("transport_reset"));
  EXPECT_TRUE(f.host.recorded("bootstrap_failed") || f.host.recorded("retry"));
}

TEST(Driver, Exchange_Answered_WatchdogSettled) {
  Fixture f;
  f.timers.advance(f.timers.now());
  f.driver.on_response(f.host.sent[0].id, Response{Code::Changed, {}, {}, {}});
  f.timers.advance(f.timers.now() + 2 * kWait);
  EXPECT_FALSE(f.host.recorded("transport_reset"));
}

TEST(Driver, BootstrapEnded_SessionClosedAfterLinger) {
  Fixture f;
  f.bootstrap_to_finish();
  ASSERT_EQ(f.driver.on_request(kBs, finish())->code, Code::Changed);
  f.timers.advance(f.timers.now() + kLinger - 1);
  EXPECT_TRUE(f.host.closed.empty());
  f.timers.advance(f.timers.now() + 1);
  EXPECT_EQ(f.host.closed, std::vector<std::string>{"bs coap://bs"});
  EXPECT_TRUE(f.host.recorded("bootstrap_session_released"));
}

}  // namespace
}  // namespace hil::lwm2m
