#include "emulator/flash/nor_flash.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace hil::flash {
namespace {

NorFlashOptions small(ViolationPolicy policy = ViolationPolicy::kAnd) {
  NorFlashOptions o;
  o.geometry = Geometry{4 * 256, 256, 32};
  o.on_violation = policy;
  o.endurance = 3;
  return o;
}

std::vector<uint8_t> bytes(const NorFlash& f, uint32_t addr, uint32_t len) {
  return std::vector<uint8_t>(f.image().begin() + addr, f.image().begin() + addr + len);
}

TEST(NorFlash, New_AnyGeometry_AllBytesErased) {
  NorFlash f(small());
  EXPECT_TRUE(std::all_of(f.image().begin(), f.image().end(), [](uint8_t b) { return b == 0xFF; }));
  EXPECT_EQ(f.erase_counts(), std::vector<uint32_t>(4, 0));
}

TEST(NorFlash, Validate_BadGeometry_Error) {
  EXPECT_FALSE(NorFlash::validate(Geometry{1000, 256, 32}).ok());
  EXPECT_FALSE(NorFlash::validate(Geometry{1024, 256, 100}).ok());
  EXPECT_FALSE(NorFlash::validate(Geometry{0, 256, 32}).ok());
  EXPECT_TRUE(NorFlash::validate(Geometry{1024, 256, 32}).ok());
}

TEST(NorFlash, Erase_ProgrammedSector_AllBytes0xFFAndCounted) {
  NorFlash f(small());
  const uint8_t zeros[8] = {};
  ASSERT_TRUE(f.program(256, zeros, 8).ok());
  ASSERT_TRUE(f.erase(1).ok());
  EXPECT_EQ(bytes(f, 256, 8), std::vector<uint8_t>(8, 0xFF));
  EXPECT_EQ(f.erase_counts(), (std::vector<uint32_t>{0, 1, 0, 0}));
  EXPECT_EQ(f.counters().erases, 1u);
  EXPECT_FALSE(f.erase(4).ok());
}

TEST(NorFlash, Program_ClearingBits_Stored) {
  NorFlash f(small());
  const uint8_t a[2] = {0xF0, 0x0F};
  const uint8_t b[2] = {0x30, 0x0C};
  ASSERT_TRUE(f.program(10, a, 2).ok());
  ASSERT_TRUE(f.program(10, b, 2).ok());  // clears more bits: legal
  EXPECT_EQ(bytes(f, 10, 2), (std::vector<uint8_t>{0x30, 0x0C}));
  EXPECT_EQ(f.counters().violations, 0u);
  EXPECT_EQ(f.counters().programs, 2u);
  EXPECT_EQ(f.counters().bytes_programmed, 4u);
}

TEST(NorFlash, Program_SettingBitWithAndPolicy_StoresAndRecordsViolation) {
  NorFlash f(small(ViolationPolicy::kAnd));
  const uint8_t a = 0x0F, b = 0xF3;
  ASSERT_TRUE(f.program(0, &a, 1).ok());
  ASSERT_TRUE(f.program(0, &b, 1).ok());
  EXPECT_EQ(f.image()[0], 0x03);
  EXPECT_EQ(f.counters().violations, 1u);
  std::vector<Event> events = f.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "flash_violation");
}

TEST(NorFlash, Program_SettingBitWithErrorPolicy_RefusedAndRecorded) {
  NorFlash f(small(ViolationPolicy::kError));
  const uint8_t a = 0x0F, b[2] = {0x00, 0xF3};
  ASSERT_TRUE(f.program(1, &a, 1).ok());
  EXPECT_FALSE(f.program(0, b, 2).ok());
  EXPECT_EQ(bytes(f, 0, 2),
            (std::vector<uint8_t>{0xFF, 0x0F}));  // nothing written, not even byte 0
  EXPECT_EQ(f.counters().violations, 1u);
}

TEST(NorFlash, Program_CrossingPageBoundary_Refused) {
  NorFlash f(small());
  const uint8_t zeros[4] = {};
  EXPECT_FALSE(f.program(30, zeros, 4).ok());
  EXPECT_TRUE(f.program(28, zeros, 4).ok());  // ends exactly at the boundary
  EXPECT_FALSE(f.program(1022, zeros, 4).ok());
}

TEST(NorFlash, Erase_PastEndurance_LeavesStuckZerosAndEvent) {
  NorFlash f(small());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.erase(2).ok());
  EXPECT_TRUE(std::all_of(f.image().begin() + 512, f.image().begin() + 768,
                          [](uint8_t b) { return b == 0xFF; }));
  (void)f.take_events();
  ASSERT_TRUE(f.erase(2).ok());  // the 4th erase of a sector rated for 3
  EXPECT_FALSE(std::all_of(f.image().begin() + 512, f.image().begin() + 768,
                           [](uint8_t b) { return b == 0xFF; }));
  EXPECT_EQ(f.counters().worn_erases, 1u);
  ASSERT_EQ(f.take_events().size(), 1u);
}

TEST(NorFlash, WearOut_Sector_NextEraseMisbehaves) {
  NorFlash f(small());
  ASSERT_TRUE(f.wear_out(0).ok());
  ASSERT_TRUE(f.erase(0).ok());
  EXPECT_EQ(f.counters().worn_erases, 1u);
  NorFlashOptions unlimited = small();
  unlimited.endurance = 0;
  NorFlash g(unlimited);
  EXPECT_FALSE(g.wear_out(0).ok());
}

TEST(NorFlash, PowerCut_BeforeOp_NothingLandsAndEveryOpFailsUntilPowerOn) {
  NorFlash f(small());
  const uint8_t zeros[4] = {};
  f.arm_power_cut(f.ops() + 1);
  ASSERT_TRUE(f.program(0, zeros, 4).ok());
  Status cut = f.program(4, zeros, 4);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, ErrorCode::kPowerLost);
  EXPECT_EQ(bytes(f, 4, 4), std::vector<uint8_t>(4, 0xFF));
  uint8_t out[4];
  EXPECT_EQ(f.read(0, out, 4).error().code, ErrorCode::kPowerLost);
  EXPECT_EQ(f.erase(0).error().code, ErrorCode::kPowerLost);
  EXPECT_EQ(f.program(8, zeros, 4).error().code, ErrorCode::kPowerLost);
  f.power_on();
  EXPECT_TRUE(f.program(8, zeros, 4).ok());
  EXPECT_EQ(f.counters().power_cuts, 1u);
  std::vector<Event> events = f.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "flash_power_cut");
}

TEST(NorFlash, PowerCut_AtByteInProgram_PrefixLandsByteTornRestUntouched) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    NorFlashOptions o = small();
    o.seed = seed;
    NorFlash f(o);
    const uint8_t zeros[8] = {};
    f.arm_power_cut(f.ops(), 3);
    EXPECT_FALSE(f.program(0, zeros, 8).ok());
    EXPECT_EQ(bytes(f, 0, 3), std::vector<uint8_t>(3, 0x00));
    EXPECT_EQ(bytes(f, 4, 4), std::vector<uint8_t>(4, 0xFF));
    EXPECT_EQ(f.counters().bytes_programmed, 3u);
  }
}

TEST(NorFlash, PowerCut_SameSeed_SameTornBits) {
  auto torn = [](uint64_t seed) {
    NorFlashOptions o = small();
    o.seed = seed;
    NorFlash f(o);
    const uint8_t zeros[8] = {};
    f.arm_power_cut(0, 5);
    (void)f.program(0, zeros, 8);
    return f.image()[5];
  };
  EXPECT_EQ(torn(7), torn(7));
  int distinct = 0;
  for (uint64_t s = 1; s < 20; ++s) distinct += torn(s) != torn(s + 1);
  EXPECT_GT(distinct, 0);
}

TEST(NorFlash, PowerCut_AtByteInErase_PrefixErasedRestAsBefore) {
  NorFlash f(small());
  std::vector<uint8_t> zeros(32, 0);
  for (uint32_t a = 256; a < 512; a += 32) ASSERT_TRUE(f.program(a, zeros.data(), 32).ok());
  f.arm_power_cut(f.ops(), 100);
  EXPECT_FALSE(f.erase(1).ok());
  EXPECT_EQ(bytes(f, 256, 100), std::vector<uint8_t>(100, 0xFF));
  EXPECT_EQ(bytes(f, 357, 155), std::vector<uint8_t>(155, 0x00));
  EXPECT_EQ(f.erase_counts()[1], 1u);
}

TEST(NorFlash, PowerCut_AtOpLength_AllLandedButReportedLost) {
  NorFlash f(small());
  const uint8_t zeros[4] = {};
  f.arm_power_cut(f.ops(), 4);
  Status s = f.program(0, zeros, 4);
  EXPECT_EQ(s.error().code, ErrorCode::kPowerLost);
  EXPECT_EQ(bytes(f, 0, 4), std::vector<uint8_t>(4, 0x00));
}

// The first operation a random cut stops, and the image it leaves.
std::pair<int, std::vector<uint8_t>> random_cut(uint64_t flash_seed,
                                                std::optional<uint64_t> cut_seed) {
  NorFlashOptions o = small();
  o.seed = flash_seed;
  NorFlash f(o);
  f.arm_random_power_cut(8, cut_seed);
  const std::vector<uint8_t> zeros(16, 0);
  int ok = 0;
  while (f.program(static_cast<uint32_t>(ok) * 16, zeros.data(), zeros.size()).ok()) ++ok;
  return {ok, bytes(f, 0, 8 * 16)};
}

TEST(NorFlash, RandomPowerCut_WithASeed_LandsWhereTheSeedSays_WhateverTheFlashSeed) {
  auto a = random_cut(1, 77), b = random_cut(2, 77);
  EXPECT_EQ(a, b);
  bool differs = false;
  for (uint64_t s = 1; s < 20 && !differs; ++s) differs = random_cut(1, 77 + s) != a;
  EXPECT_TRUE(differs) << "another seed should cut elsewhere";
  EXPECT_NE(random_cut(1, std::nullopt), random_cut(3, std::nullopt));
}

TEST(NorFlash, RandomPowerCut_WithinOps_FiresThere) {
  NorFlash f(small());
  f.arm_random_power_cut(5);
  const uint8_t zero = 0;
  int ok = 0;
  while (f.program(ok, &zero, 1).ok()) ++ok;
  EXPECT_LT(ok, 5);
  EXPECT_FALSE(f.powered());
}

TEST(NorFlash, FlipBit_Chosen_OneBitChangesAndEvent) {
  NorFlash f(small());
  ASSERT_TRUE(f.flip_bit(100, 3).ok());
  EXPECT_EQ(f.image()[100], 0xF7);
  EXPECT_FALSE(f.flip_bit(100, 8).ok());
  EXPECT_FALSE(f.flip_bit(1024, 0).ok());
  EXPECT_EQ(f.counters().bit_flips, 1u);
  EXPECT_EQ(f.take_events()[0].kind, "flash_bit_flip");
}

TEST(NorFlash, FlipRandomBits_InRange_OnlyThereAndCounted) {
  NorFlash f(small());
  ASSERT_TRUE(f.flip_random_bits(64, 16, 5).ok());
  EXPECT_EQ(f.counters().bit_flips, 5u);
  for (uint32_t i = 0; i < 1024; ++i) {
    if (i < 64 || i >= 80) {
      EXPECT_EQ(f.image()[i], 0xFF) << i;
    }
  }
}

TEST(NorFlash, Latency_PerOp_ChargedOnceToCaller) {
  NorFlashOptions o = small();
  o.program_latency_us = 10;
  o.erase_latency_us = 1000;
  NorFlash f(o);
  const uint8_t zero = 0;
  ASSERT_TRUE(f.program(0, &zero, 1).ok());
  ASSERT_TRUE(f.erase(1).ok());
  EXPECT_EQ(f.take_busy_us(), 1010u);
  EXPECT_EQ(f.take_busy_us(), 0u);
}

TEST(NorFlash, LoadImage_WrongSize_Refused) {
  NorFlash f(small());
  std::vector<uint8_t> img(1000, 0);
  EXPECT_FALSE(f.load_image(img.data(), img.size()).ok());
  img.resize(1024);
  EXPECT_TRUE(f.load_image(img.data(), img.size()).ok());
  EXPECT_EQ(f.image()[0], 0);
}

}  // namespace
}  // namespace hil::flash
