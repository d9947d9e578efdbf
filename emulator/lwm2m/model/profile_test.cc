#include "emulator/lwm2m/model/profile.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

TEST(Profile, ParseProfile_EachName_RoundTrips) {
  for (Profile p : {Profile::Cr, Profile::V1_0, Profile::V1_1}) {
    EXPECT_EQ(parse_profile(to_string(p)), p);
  }
  EXPECT_STREQ(to_string(Profile::V1_1), "1.1");
}

TEST(Profile, ParseProfile_UnknownName_Nullopt) {
  EXPECT_EQ(parse_profile("1.2"), std::nullopt);
  EXPECT_EQ(parse_profile("CR"), std::nullopt);
  EXPECT_EQ(parse_profile(""), std::nullopt);
}

}  // namespace
}  // namespace hil::lwm2m
