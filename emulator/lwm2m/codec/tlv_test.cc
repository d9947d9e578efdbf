#include "emulator/lwm2m/codec/tlv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace hil::lwm2m::tlv {
namespace {

// /3/0 from the LwM2M TS 1.0 TLV example (section 6.4.3.1), trimmed.
const Bytes kDevice = {
    0xC8, 0x00, 0x14, 'O', 'p', 'e', 'n', ' ', 'M', 'o', 'b', 'i', 'l', 'e', ' ', 'A', 'l', 'l',
    'i', 'a', 'n', 'c', 'e',             // 0:
                                         // Manufacturer
    0xC3, 0x03, '1', '.', '0',           // 3: Firmware Version
    0x86, 0x06,                          // 6: Power Sources
    0x41, 0x00, 0x01,                    //   [0] = 1
    0x41, 0x01, 0x05,                    //   [1] = 5
    0x88, 0x07, 0x08,                    // 7: Voltage, 8-bit length
    0x42, 0x00, 0x0E, 0xD8,              //   [0] = 3800
    0x42, 0x01, 0x13, 0x88,              //   [1] = 5000
    0xC1, 0x09, 0x64,                    // 9: Battery 100
    0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F,  // 13: Current Time
    0xC1, 0x10, 'U',                     // 16: Binding
};

Record leaf(Type t, uint16_t id, Bytes v) { return {t, id, std::move(v), {}}; }
Record node(Type t, uint16_t id, std::vector<Record> c) { return {t, id, {}, std::move(c)}; }

Bytes wrapped_device() {
  Result<std::vector<Record>> inner = decode(kDevice.data(), kDevice.size());
  EXPECT_TRUE(inner.ok());
  return encode({node(Type::ObjectInstance, 0, *inner)});
}

TEST(Tlv, Decode_SpecDeviceExample_Records) {
  Result<std::vector<Record>> r = decode(kDevice.data(), kDevice.size());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ((*r)[0],
            leaf(Type::Resource, 0, Bytes{'O', 'p', 'e', 'n', ' ', 'M', 'o', 'b', 'i', 'l',
                                          'e', ' ', 'A', 'l', 'l', 'i', 'a', 'n', 'c', 'e'}));
  EXPECT_EQ((*r)[2],
            node(Type::MultipleResource, 6,
                 {leaf(Type::ResourceInstance, 0, {1}), leaf(Type::ResourceInstance, 1, {5})}));
  EXPECT_EQ((*r)[3].children[1].value, (Bytes{0x13, 0x88}));
  EXPECT_EQ((*r)[6], leaf(Type::Resource, 16, {'U'}));
}

TEST(Tlv, Encode_SpecDeviceExample_SameBytes) {
  Result<std::vector<Record>> r = decode(kDevice.data(), kDevice.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(encode(*r), kDevice);
}

TEST(Tlv, Decode_Empty_NoRecords) {
  Result<std::vector<Record>> r = decode(nullptr, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(Tlv, Encode_ValueLengths_MinimalLengthField) {
  struct Case {
    size_t len;
    Bytes header;
  } cases[] = {
      {0, {0xC0, 0x01}},
      {7, {0xC7, 0x01}},
      {8, {0xC8, 0x01, 0x08}},
      {255, {0xC8, 0x01, 0xFF}},
      {256, {0xD0, 0x01, 0x01, 0x00}},
      {65535, {0xD0, 0x01, 0xFF, 0xFF}},
      {65536, {0xD8, 0x01, 0x01, 0x00, 0x00}},
  };
  for (const Case& c : cases) {
    const Bytes out = encode({leaf(Type::Resource, 1, Bytes(c.len, 0xAA))});
    ASSERT_EQ(out.size(), c.header.size() + c.len) << c.len;
    EXPECT_EQ(Bytes(out.begin(), out.begin() + c.header.size()), c.header) << c.len;
    Result<std::vector<Record>> back = decode(out.data(), out.size());
    ASSERT_TRUE(back.ok()) << c.len;
    EXPECT_EQ((*back)[0].value.size(), c.len);
  }
}

TEST(Tlv, Encode_Ids_EightBitUpTo255SixteenAbove) {
  EXPECT_EQ(encode({leaf(Type::Resource, 255, {})}), (Bytes{0xC0, 0xFF}));
  EXPECT_EQ(encode({leaf(Type::Resource, 256, {})}), (Bytes{0xE0, 0x01, 0x00}));
  EXPECT_EQ(encode({leaf(Type::ResourceInstance, 65534, {7})}), (Bytes{0x61, 0xFF, 0xFE, 0x07}));
}

TEST(Tlv, Decode_NonMinimalEncodings_Accepted) {
  // 16-bit id 5 and a 16-bit length field for 1 byte.
  const Bytes in = {0xF0, 0x00, 0x05, 0x00, 0x01, 0x2A};
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, std::vector<Record>{leaf(Type::Resource, 5, {0x2A})});
}

TEST(Tlv, EncodeDecode_NestedObjectInstances_RoundTrip) {
  const std::vector<Record> records = {
      node(Type::ObjectInstance, 0,
           {leaf(Type::Resource, 0, {'c', 'o', 'a', 'p'}),
            node(Type::MultipleResource, 300, {leaf(Type::ResourceInstance, 0, Bytes(300, 1))})}),
      node(Type::ObjectInstance, 1, {}),
  };
  const Bytes b = encode(records);
  Result<std::vector<Record>> back = decode(b.data(), b.size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, records);
}

TEST(Tlv, Decode_TruncatedAtEveryByte_ReturnsError) {
  const Bytes full = wrapped_device();
  for (size_t n = 1; n < full.size(); ++n) {
    Result<std::vector<Record>> r = decode(full.data(), n);
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(decode(full.data(), full.size()).ok());
}

TEST(Tlv, Decode_TruncatedHeader_ErrorSaysHowMuchIsMissing) {
  const Bytes in = {0xD8, 0x01, 0x00};  // 24-bit length, 2 bytes of it missing
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "TLV record at offset 0 is truncated: its header needs 5 bytes, 3 "
            "left");
}

TEST(Tlv, Decode_LengthOverrunsBuffer_ReturnsError) {
  const Bytes in = {0xC8, 0x00, 0x10, 'a', 'b'};
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "TLV Resource 0 at offset 0 claims 16 value bytes, only 2 left");
}

TEST(Tlv, Decode_ChildOverrunsContainer_ReturnsError) {
  // The multiple resource holds 3 bytes; its child claims 2 value bytes of
  // which only 1 is inside, although the buffer continues.
  const Bytes in = {0x83, 0x06, 0x42, 0x00, 0x01, 0xC1, 0x01, 0x01};
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("Resource Instance 0 at offset 2 claims 2"), std::string::npos)
      << r.error().message;
}

TEST(Tlv, Decode_ObjectInstanceInObjectInstance_ReturnsError) {
  const Bytes in = {0x03, 0x00, 0x01, 0x01, 0xC0};  // 0 { 1 { ... } }
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "TLV Object Instance 0 contains Object Instance 1 at offset 2; "
            "only Resource and Multiple Resource records may nest there");
}

TEST(Tlv, Decode_ResourceInMultipleResource_ReturnsError) {
  const Bytes in = {0x83, 0x06, 0xC1, 0x00, 0x01};
  Result<std::vector<Record>> r = decode(in.data(), in.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("only Resource Instance records"), std::string::npos);
}

TEST(Tlv, Decode_ResourceInstanceDirectlyInObjectInstance_ReturnsError) {
  const Bytes in = {0x03, 0x00, 0x41, 0x00, 0x01};
  EXPECT_FALSE(decode(in.data(), in.size()).ok());
}

TEST(Tlv, Decode_DeepNestingChain_ReturnsError) {
  // Object instance -> multiple resource -> multiple resource.
  const Bytes in = {0x04, 0x00, 0x82, 0x01, 0x80, 0x02};
  EXPECT_FALSE(decode(in.data(), in.size()).ok());
}

TEST(Tlv, Int_Boundaries_SmallestWidthAndBack) {
  struct Case {
    int64_t v;
    size_t width;
  } cases[] = {{0, 1},
               {127, 1},
               {-128, 1},
               {128, 2},
               {-129, 2},
               {32767, 2},
               {32768, 4},
               {-2147483648, 4},
               {2147483648, 8},
               {std::numeric_limits<int64_t>::min(), 8},
               {std::numeric_limits<int64_t>::max(), 8}};
  for (const Case& c : cases) {
    const Bytes b = encode_int(c.v);
    EXPECT_EQ(b.size(), c.width) << c.v;
    Result<int64_t> back = decode_int(b);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, c.v);
  }
  EXPECT_EQ(encode_int(3800), (Bytes{0x0E, 0xD8}));
}

TEST(Tlv, DecodeInt_NegativeOneByte_SignExtended) {
  EXPECT_EQ(*decode_int({0xFF}), -1);
  EXPECT_EQ(*decode_int({0x80, 0x00}), -32768);
}

TEST(Tlv, DecodeInt_BadWidths_ReturnsError) {
  for (size_t n : {0, 3, 5, 6, 7, 9}) {
    Result<int64_t> r = decode_int(Bytes(n, 0));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().message, "an Integer needs 1, 2, 4 or 8 bytes, got " + std::to_string(n));
  }
}

TEST(Tlv, Uint_Boundaries_UnsignedWidths) {
  EXPECT_EQ(encode_uint(255), (Bytes{0xFF}));
  EXPECT_EQ(encode_uint(256).size(), 2u);
  EXPECT_EQ(encode_uint(65536).size(), 4u);
  EXPECT_EQ(encode_uint(UINT64_MAX).size(), 8u);
  EXPECT_EQ(*decode_uint({0xFF}), 255u);
  EXPECT_EQ(*decode_uint(Bytes(8, 0xFF)), UINT64_MAX);
  EXPECT_FALSE(decode_uint({1, 2, 3}).ok());
}

TEST(Tlv, Float_ExactInSinglePrecision_FourBytes) {
  EXPECT_EQ(encode_float(1.5), (Bytes{0x3F, 0xC0, 0x00, 0x00}));
  EXPECT_EQ(*decode_float({0x3F, 0xC0, 0x00, 0x00}), 1.5);
}

TEST(Tlv, Float_NeedsDoublePrecision_EightBytesRoundTrip) {
  const Bytes b = encode_float(0.1);
  EXPECT_EQ(b.size(), 8u);
  EXPECT_EQ(*decode_float(b), 0.1);
  EXPECT_TRUE(std::isnan(*decode_float(encode_float(std::nan("")))));
}

TEST(Tlv, DecodeFloat_BadWidth_ReturnsError) {
  Result<double> r = decode_float({0, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "a Float needs 4 or 8 bytes, got 2");
}

TEST(Tlv, Bool_ZeroOne_RoundTrip) {
  EXPECT_EQ(encode_bool(true), Bytes{1});
  EXPECT_EQ(*decode_bool({0}), false);
  EXPECT_EQ(*decode_bool({1}), true);
}

TEST(Tlv, DecodeBool_NotZeroOneOrWrongWidth_ReturnsError) {
  Result<bool> two = decode_bool({2});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message, "a Boolean must be 0 or 1, got 2");
  EXPECT_FALSE(decode_bool({}).ok());
  EXPECT_FALSE(decode_bool({0, 1}).ok());
}

TEST(Tlv, ObjLink_FourBytes_RoundTrip) {
  EXPECT_EQ(encode_objlink({0x0102, 0xFFFF}), (Bytes{1, 2, 0xFF, 0xFF}));
  EXPECT_EQ(*decode_objlink({0, 3, 0, 1}), (ObjLink{3, 1}));
  EXPECT_FALSE(decode_objlink({0, 3, 0}).ok());
}

TEST(Tlv, EncodeValue_EachType_Bytes) {
  EXPECT_EQ(*encode_value(ResourceType::String, std::string("ab")), (Bytes{'a', 'b'}));
  EXPECT_EQ(*encode_value(ResourceType::Opaque, Bytes{9}), Bytes{9});
  EXPECT_EQ(*encode_value(ResourceType::Time, int64_t{1}), Bytes{1});
  EXPECT_EQ(*encode_value(ResourceType::Boolean, false), Bytes{0});
}

TEST(Tlv, EncodeValue_WrongAlternativeOrNone_ReturnsError) {
  Result<Bytes> r = encode_value(ResourceType::Integer, std::string("1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "value \"1\" is not of type Integer");
  EXPECT_FALSE(encode_value(ResourceType::None, int64_t{1}).ok());
}

TEST(Tlv, DecodeValue_EachType_Alternative) {
  EXPECT_EQ(*decode_value(ResourceType::CoreLink, {'<', '>'}), Value(std::string("<>")));
  EXPECT_EQ(*decode_value(ResourceType::UnsignedInteger, {0xFF}), Value(uint64_t{255}));
  EXPECT_EQ(*decode_value(ResourceType::Integer, {0xFF}), Value(int64_t{-1}));
  EXPECT_FALSE(decode_value(ResourceType::None, {}).ok());
}

}  // namespace
}  // namespace hil::lwm2m::tlv
