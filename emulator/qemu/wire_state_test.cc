#include "emulator/qemu/wire_state.h"

#include <gtest/gtest.h>

#include "emulator/radio/test_messages.h"

namespace hil::qemu {
namespace {

using lwm2m::BootstrapExit;
using lwm2m::State;
using radio::test::Bytes;
using radio::test::coap;
using radio::test::kAck;
using radio::test::kChanged;
using radio::test::kCon;
using radio::test::kCreated;
using radio::test::kPost;
using radio::test::kPut;

constexpr uint8_t kBadRequest = 4 * 32 + 0;
constexpr uint8_t kNotAcceptable = 4 * 32 + 6;

const Bytes kBsToken{1, 1}, kFinishToken{2, 2}, kRegToken{3, 3}, kWriteToken{4, 4};

Bytes request_bootstrap(uint16_t mid = 1) { return coap(kCon, kPost, mid, kBsToken, {"bs"}); }
Bytes finish(uint16_t mid = 20) { return coap(kCon, kPost, mid, kFinishToken, {"bs"}); }
Bytes reg(uint16_t mid = 2) { return coap(kCon, kPost, mid, kRegToken, {"rd"}); }

std::optional<WireChange> up(WireState& w, const Bytes& b) {
  return w.on_uplink(b.data(), b.size());
}
std::optional<WireChange> down(WireState& w, const Bytes& b) {
  return w.on_downlink(b.data(), b.size());
}

// A Request Bootstrap the server accepted, and one Write answered: bootstrap
// in progress, no Finish yet.
void accepted_with_a_write(WireState& w) {
  up(w, request_bootstrap());
  down(w, coap(kAck, kChanged, 1, kBsToken));
  down(w, coap(kCon, kPut, 10, kWriteToken, {"1", "0"}));
  up(w, coap(kAck, kChanged, 10, kWriteToken));
}

TEST(WireState, FinishAnsweredThenRegister_ExitFinishThenRegistered) {
  WireState w;
  auto c = up(w, request_bootstrap());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, State::Bootstrapping);
  EXPECT_FALSE(down(w, coap(kAck, kChanged, 1, kBsToken)));
  EXPECT_FALSE(down(w, coap(kCon, kPut, 10, kWriteToken, {"0", "1"})));
  EXPECT_FALSE(up(w, coap(kAck, kChanged, 10, kWriteToken)));
  EXPECT_FALSE(down(w, finish()));
  c = up(w, coap(kAck, kChanged, 20, kFinishToken));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exit, BootstrapExit::Finish);
  EXPECT_EQ(c->state, State::Bootstrapped);
  EXPECT_EQ(c->why, "Finish answered 2.04");
  c = up(w, reg());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, State::Registering);
  EXPECT_FALSE(c->exit) << "Finish was answered: registering is no second exit";
  c = down(w, coap(kAck, kCreated, 2, kRegToken));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, State::Registered);
}

TEST(WireState, RegisterWithoutFinish_ExitIdleTimeout) {
  WireState w;
  accepted_with_a_write(w);
  auto c = up(w, reg());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exit, BootstrapExit::IdleTimeout);
}

TEST(WireState, FinishRefused406_NoExit_TheRetriedFinishAnswered_Finish) {
  WireState w;
  up(w, request_bootstrap());
  down(w, finish(20));
  EXPECT_FALSE(up(w, coap(kAck, kNotAcceptable, 20, kFinishToken)));
  down(w, coap(kCon, kPost, 21, Bytes{5, 5}, {"bs"}));
  auto c = up(w, coap(kAck, kChanged, 21, Bytes{5, 5}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exit, BootstrapExit::Finish);
}

TEST(WireState, RequestBootstrapAnswered400_ExitRejected) {
  WireState w;
  up(w, request_bootstrap());
  auto c = down(w, coap(kAck, kBadRequest, 1, kBsToken));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exit, BootstrapExit::Rejected);
  EXPECT_EQ(c->why, "Request Bootstrap answered 4.00");
  EXPECT_FALSE(down(w, coap(kAck, kBadRequest, 1, kBsToken))) << "a duplicate is no second exit";
}

TEST(WireState, RetransmissionsAndDuplicates_ChangeNothingTwice) {
  WireState w;
  EXPECT_TRUE(up(w, request_bootstrap()));
  EXPECT_FALSE(up(w, request_bootstrap())) << "retransmitted Request Bootstrap";
  down(w, finish());
  EXPECT_TRUE(up(w, coap(kAck, kChanged, 20, kFinishToken)));
  down(w, finish());  // the server did not see the ACK and resent Finish
  EXPECT_FALSE(up(w, coap(kAck, kChanged, 20, kFinishToken)));
  EXPECT_TRUE(up(w, reg()));
  EXPECT_FALSE(up(w, reg())) << "retransmitted Register";
  EXPECT_TRUE(down(w, coap(kAck, kCreated, 2, kRegToken)));
  EXPECT_FALSE(down(w, coap(kAck, kCreated, 2, kRegToken))) << "duplicated 2.01";
}

TEST(WireState, ConfiguredDeviceRegisters_NoExit) {
  WireState w;
  auto c = up(w, reg());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->exit);
  EXPECT_EQ(c->state, State::Registering);
}

TEST(WireState, ResetAtBoot_ForgetsTheBootstrapInProgress) {
  WireState w;
  up(w, request_bootstrap());
  w.reset();
  auto c = up(w, reg());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->exit) << "the Request Bootstrap belonged to the previous boot";
}

TEST(WireState, NotCoap_Ignored) {
  WireState w;
  Bytes garbage{0xFF, 0x00, 0x01};
  EXPECT_FALSE(up(w, garbage));
  EXPECT_FALSE(down(w, garbage));
  auto record = radio::test::dtls_record(23, 40);
  EXPECT_FALSE(up(w, record));
}

TEST(WireState, NewRequestAfterAnAcceptedOneWithoutFinish_ExitFinishTimeout) {
  WireState w;
  accepted_with_a_write(w);
  auto c = up(w, coap(kCon, kPost, 30, Bytes{6, 6}, {"bs"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exit, BootstrapExit::FinishTimeout);
  EXPECT_EQ(c->state, State::Bootstrapping);
}

TEST(WireState, NewRequestAfterAnUnansweredOne_ARetryNoExit) {
  WireState w;
  up(w, request_bootstrap());
  EXPECT_FALSE(up(w, coap(kCon, kPost, 30, Bytes{6, 6}, {"bs"})));
}

TEST(ExitCheck, SameExitsInOrder_NoDisagreement_ADifferentOne_Described) {
  ExitCheck check;
  EXPECT_FALSE(check.add(ExitCheck::kUart, BootstrapExit::FinishTimeout));
  EXPECT_FALSE(check.add(ExitCheck::kWire, BootstrapExit::FinishTimeout));
  EXPECT_FALSE(check.add(ExitCheck::kWire, BootstrapExit::Finish)) << "the UART has not said yet";
  auto differs = check.add(ExitCheck::kUart, BootstrapExit::IdleTimeout);
  ASSERT_TRUE(differs);
  EXPECT_EQ(*differs, "exit 2 of this boot: UART says idle_timeout, wire says finish");
  check.reset();
  EXPECT_FALSE(check.add(ExitCheck::kWire, BootstrapExit::Finish)) << "a new boot";
}

}  // namespace
}  // namespace hil::qemu
