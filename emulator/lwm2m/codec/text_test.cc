#include "emulator/lwm2m/codec/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace hil::lwm2m {
namespace {

Result<Value> decode_text(ResourceType t, const std::string& s) {
  return text::decode(t, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string encode_text(ResourceType t, const Value& v) {
  Result<Bytes> b = text::encode(t, v);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::string(b->begin(), b->end()) : "";
}

TEST(Text, Encode_EachType_LwM2MTextForm) {
  EXPECT_EQ(encode_text(ResourceType::Integer, int64_t{-42}), "-42");
  EXPECT_EQ(encode_text(ResourceType::Time, int64_t{1367491215}), "1367491215");
  EXPECT_EQ(encode_text(ResourceType::UnsignedInteger, UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(encode_text(ResourceType::Float, 0.1), "0.1");
  EXPECT_EQ(encode_text(ResourceType::Boolean, true), "1");
  EXPECT_EQ(encode_text(ResourceType::Boolean, false), "0");
  EXPECT_EQ(encode_text(ResourceType::ObjLink, ObjLink{3, 0}), "3:0");
  EXPECT_EQ(encode_text(ResourceType::String, std::string("coap://h:5683")), "coap://h:5683");
}

TEST(Text, Decode_EachType_Value) {
  EXPECT_EQ(*decode_text(ResourceType::Integer, "-42"), Value(int64_t{-42}));
  EXPECT_EQ(*decode_text(ResourceType::Integer, "-9223372036854775808"), Value(INT64_MIN));
  EXPECT_EQ(*decode_text(ResourceType::Integer, "9223372036854775807"), Value(INT64_MAX));
  EXPECT_EQ(*decode_text(ResourceType::UnsignedInteger, "18446744073709551615"), Value(UINT64_MAX));
  EXPECT_EQ(*decode_text(ResourceType::Float, "-2.5e3"), Value(-2500.0));
  EXPECT_EQ(*decode_text(ResourceType::Float, "7"), Value(7.0));
  EXPECT_EQ(*decode_text(ResourceType::Boolean, "1"), Value(true));
  EXPECT_EQ(*decode_text(ResourceType::ObjLink, "65535:0"), Value(ObjLink{65535, 0}));
  EXPECT_EQ(*decode_text(ResourceType::String, ""), Value(std::string()));
}

TEST(Text, Decode_BadNumbers_ReturnsError) {
  for (const char* s : {"", "+1", " 1", "1 ", "1.0", "0x10", "--1", "-", "9223372036854775808",
                        "-9223372036854775809"}) {
    EXPECT_FALSE(decode_text(ResourceType::Integer, s).ok()) << s;
  }
  for (const char* s : {"", "-1", "18446744073709551616"}) {
    EXPECT_FALSE(decode_text(ResourceType::UnsignedInteger, s).ok()) << s;
  }
  for (const char* s : {"", "nan", "inf", "1.", ".5", "1e", "0x1p3", "1e999", " 1"}) {
    EXPECT_FALSE(decode_text(ResourceType::Float, s).ok()) << s;
  }
}

TEST(Text, DecodeBool_NotZeroOne_ErrorSaysWhatIsAllowed) {
  Result<Value> r = decode_text(ResourceType::Boolean, "true");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "'true' is not a Boolean (0 or 1)");
}

TEST(Text, DecodeObjLink_Malformed_ReturnsError) {
  for (const char* s : {"3", "3:", ":0", "3:0:1", "65536:0", "a:b", "3-0"}) {
    EXPECT_FALSE(decode_text(ResourceType::ObjLink, s).ok()) << s;
  }
}

TEST(Text, Opaque_EitherDirection_ReturnsError) {
  Result<Value> d = decode_text(ResourceType::Opaque, "abc");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "plain text cannot carry Opaque values");
  EXPECT_FALSE(text::encode(ResourceType::Opaque, Bytes{1}).ok());
}

TEST(Text, Executable_EitherDirection_ReturnsError) {
  EXPECT_FALSE(decode_text(ResourceType::None, "").ok());
  EXPECT_FALSE(text::encode(ResourceType::None, int64_t{0}).ok());
}

TEST(Text, EncodeFloat_NotFinite_ReturnsError) {
  EXPECT_FALSE(text::encode(ResourceType::Float, INFINITY).ok());
  EXPECT_FALSE(text::encode(ResourceType::Float, std::nan("")).ok());
}

TEST(Text, Encode_WrongAlternative_ReturnsError) {
  EXPECT_FALSE(text::encode(ResourceType::Integer, uint64_t{1}).ok());
}

TEST(Text, Float_ManyValues_RoundTrip) {
  for (double d : {0.0, -0.0, 1e-300, 123456.789, 1.0 / 3, -1e300}) {
    EXPECT_EQ(*decode_text(ResourceType::Float, encode_text(ResourceType::Float, d)), Value(d));
  }
}

TEST(Opaque, EncodeDecode_OpaqueResource_RawBytes) {
  const Bytes key = {0x00, 0xFF, 0x10};
  EXPECT_EQ(*opaque::encode(ResourceType::Opaque, key), key);
  EXPECT_EQ(*opaque::decode(ResourceType::Opaque, key.data(), key.size()), Value(key));
  EXPECT_EQ(*opaque::decode(ResourceType::Opaque, nullptr, 0), Value(Bytes{}));
}

TEST(Opaque, OtherTypes_ReturnsError) {
  Result<Value> r = opaque::decode(ResourceType::String, nullptr, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "opaque cannot carry String values");
  EXPECT_FALSE(opaque::encode(ResourceType::Integer, int64_t{1}).ok());
  EXPECT_FALSE(opaque::encode(ResourceType::Opaque, std::string("x")).ok());
}

}  // namespace
}  // namespace hil::lwm2m
