#include "emulator/lwm2m/codec/tree.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

ObjectTree sample() {
  ObjectTree t;
  t.set(kSecurity, 0, security::kUri, std::string("coap://127.0.0.1:5783"));
  t.set(kSecurity, 0, security::kBootstrapServer, true);
  t.set(kSecurity, 0, security::kMode, security::kModeNoSec);
  t.set(kSecurity, 1, security::kSecretKey, Bytes{1, 2, 3});
  t.set(kServer, 0, server::kLifetime, int64_t{300});
  t.set(kServer, 0, server::kBinding, std::string("U"));
  t.objects()[kAccessControl];  // present, no instances
  return t;
}

TEST(Tree, EncodeDecode_Sample_RoundTrips) {
  const auto& reg = ObjectRegistry::builtin();
  auto bytes = tree::encode(sample(), reg);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto back = tree::decode(bytes->data(), bytes->size(), reg);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(*back == sample());
}

TEST(Tree, Decode_TruncatedAtEveryByte_ReturnsError) {
  const auto& reg = ObjectRegistry::builtin();
  auto bytes = *tree::encode(sample(), reg);
  for (size_t n = 1; n < bytes.size(); ++n) {
    auto r = tree::decode(bytes.data(), n, reg);
    // A cut that falls exactly between two objects is a valid, shorter tree.
    if (r.ok()) {
      EXPECT_FALSE(*r == sample()) << "at " << n;
    }
  }
}

TEST(Tree, Decode_UnknownObject_ReturnsError) {
  const uint8_t data[] = {0x7f, 0x00, 0, 0, 0, 0};
  auto r = tree::decode(data, sizeof(data), ObjectRegistry::builtin());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("32512"), std::string::npos);
}

TEST(Tree, Decode_Empty_EmptyTree) {
  auto r = tree::decode(nullptr, 0, ObjectRegistry::builtin());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->objects().empty());
}

}  // namespace
}  // namespace hil::lwm2m
