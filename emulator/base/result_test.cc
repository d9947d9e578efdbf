#include "emulator/base/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace hil {
namespace {

Status fail_with(ErrorCode code) { return Error{code, "failed"}; }

Result<std::unique_ptr<int>> make(bool ok) {
  if (!ok) return Error{ErrorCode::kResourceExhausted, "no room"};
  return std::make_unique<int>(7);
}

// Counts how far it got, to show where HIL_TRY left.
Status two_steps(bool first_ok, int* steps) {
  HIL_TRY(first_ok ? ok_status() : fail_with(ErrorCode::kPowerLost));
  ++*steps;
  HIL_TRY(ok_status());
  ++*steps;
  return ok_status();
}

Result<int> doubled(bool ok) {
  HIL_TRY_ASSIGN(std::unique_ptr<int> p, make(ok));  // a move-only value
  HIL_TRY_ASSIGN(const int twice, Result<int>(*p * 2));
  return twice;
}

TEST(Result, Try_Failure_ReturnsTheErrorAndStops) {
  int steps = 0;
  Status s = two_steps(false, &steps);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kPowerLost);
  EXPECT_EQ(steps, 0);
}

TEST(Result, Try_Success_GoesOn) {
  int steps = 0;
  EXPECT_TRUE(two_steps(true, &steps).ok());
  EXPECT_EQ(steps, 2);
}

TEST(Result, TryAssign_Success_MovesTheValueOut) {
  Result<int> r = doubled(true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 14);
}

TEST(Result, TryAssign_Failure_ReturnsTheErrorWithItsCode) {
  Result<int> r = doubled(false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(r.error().message, "no room");
}

TEST(Result, Is_ChecksTheCodeOfAFailureOnly) {
  EXPECT_TRUE(fail_with(ErrorCode::kTimeout).is(ErrorCode::kTimeout));
  EXPECT_FALSE(fail_with(ErrorCode::kTimeout).is(ErrorCode::kIo));
  EXPECT_FALSE(ok_status().is(ErrorCode::kTimeout));
}

TEST(Result, Prefixed_KeepsTheCode) {
  Error e = Error{ErrorCode::kIo, "cannot open x"}.prefixed("capture: ");
  EXPECT_EQ(e.code, ErrorCode::kIo);
  EXPECT_EQ(e.message, "capture: cannot open x");
}

TEST(Result, ToString_NamesEveryCode) {
  EXPECT_STREQ(to_string(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_STREQ(to_string(ErrorCode::kPowerLost), "power_lost");
  EXPECT_STREQ(to_string(ErrorCode::kResourceExhausted), "resource_exhausted");
}

}  // namespace
}  // namespace hil
