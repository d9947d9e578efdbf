#include "emulator/device/handshake_gate.h"

#include <gtest/gtest.h>

#include <vector>

namespace hil::device {
namespace {

TEST(HandshakeGate, OverTheLimit_WaitsUntilASlotFrees_InOrder) {
  HandshakeGate gate(2);
  std::vector<int> started;
  for (int i = 0; i < 4; ++i) gate.enter([&, i] { started.push_back(i); });
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  EXPECT_EQ(gate.waiting(), 2u);
  gate.leave();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(gate.active(), 2u);
}

TEST(HandshakeGate, Cancel_AWaitingStart_NeverRuns) {
  HandshakeGate gate(1);
  int ran = 0;
  gate.enter([] {});
  uint64_t ticket = gate.enter([&] { ++ran; });
  gate.cancel(ticket);
  gate.leave();
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(gate.active(), 0u);
}

TEST(HandshakeGate, StartThatLeavesAtOnce_PassesTheSlotOn) {
  HandshakeGate gate(1);
  std::vector<int> started;
  gate.enter([] {});
  gate.enter([&] {
    started.push_back(1);
    gate.leave();  // no handshake after all
  });
  gate.enter([&] { started.push_back(2); });
  gate.leave();
  EXPECT_EQ(started, (std::vector<int>{1, 2}));
  EXPECT_EQ(gate.active(), 1u);
  EXPECT_EQ(gate.waiting(), 0u);
}

}  // namespace
}  // namespace hil::device
