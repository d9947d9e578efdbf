#include "emulator/lwm2m/model/value.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hil::lwm2m {
namespace {

TEST(Value, HoldsType_EachType_MatchesDocumentedAlternative) {
  EXPECT_TRUE(holds_type(Value(int64_t{1}), ResourceType::Integer));
  EXPECT_TRUE(holds_type(Value(int64_t{1}), ResourceType::Time));
  EXPECT_TRUE(holds_type(Value(uint64_t{1}), ResourceType::UnsignedInteger));
  EXPECT_TRUE(holds_type(Value(1.5), ResourceType::Float));
  EXPECT_TRUE(holds_type(Value(true), ResourceType::Boolean));
  EXPECT_TRUE(holds_type(Value(std::string("a")), ResourceType::String));
  EXPECT_TRUE(holds_type(Value(std::string("</1>")), ResourceType::CoreLink));
  EXPECT_TRUE(holds_type(Value(std::vector<uint8_t>{1}), ResourceType::Opaque));
  EXPECT_TRUE(holds_type(Value(ObjLink{3, 0}), ResourceType::ObjLink));
}

TEST(Value, HoldsType_WrongAlternativeOrNone_False) {
  EXPECT_FALSE(holds_type(Value(uint64_t{1}), ResourceType::Integer));
  EXPECT_FALSE(holds_type(Value(int64_t{1}), ResourceType::Float));
  EXPECT_FALSE(holds_type(Value(std::string("1")), ResourceType::Opaque));
  EXPECT_FALSE(holds_type(Value(int64_t{0}), ResourceType::None));
}

TEST(Value, ToDisplay_EachAlternative_Readable) {
  EXPECT_EQ(to_display(Value(int64_t{-5})), "-5");
  EXPECT_EQ(to_display(Value(uint64_t{7})), "7");
  EXPECT_EQ(to_display(Value(0.1)), "0.1");
  EXPECT_EQ(to_display(Value(false)), "false");
  EXPECT_EQ(to_display(Value(std::string("coap://x"))), "\"coap://x\"");
  EXPECT_EQ(to_display(Value(ObjLink{3, 0})), "3:0");
  EXPECT_EQ(to_display(Value(std::vector<uint8_t>{0xab, 0x01})), "0xab01 (2 bytes)");
}

TEST(Value, ToDisplay_LongOpaque_Truncated) {
  const std::string s = to_display(Value(std::vector<uint8_t>(100, 0xff)));
  EXPECT_EQ(s, "0x" + std::string(32, 'f') + "... (100 bytes)");
}

TEST(Value, ShortestDecimal_Doubles_ShortestRoundTrip) {
  EXPECT_EQ(shortest_decimal(0.1), "0.1");
  EXPECT_EQ(shortest_decimal(1.0), "1");
  EXPECT_EQ(shortest_decimal(-2.5), "-2.5");
  EXPECT_EQ(shortest_decimal(1e20), "1e+20");
  const double third = 1.0 / 3;
  EXPECT_EQ(std::strtod(shortest_decimal(third).c_str(), nullptr), third);
}

TEST(Value, ToString_Types_DdfNames) {
  EXPECT_STREQ(to_string(ResourceType::UnsignedInteger), "Unsigned Integer");
  EXPECT_STREQ(to_string(ResourceType::ObjLink), "Objlnk");
}

TEST(Value, IsUtf8_ValidAndInvalidSequences_Classified) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain"));
  EXPECT_TRUE(is_utf8("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_utf8("\xFF"));
  EXPECT_FALSE(is_utf8("\xC3"));              // truncated
  EXPECT_FALSE(is_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(
      is_utf8("a\x80"
              "b"));  // lone continuation
}

}  // namespace
}  // namespace hil::lwm2m
