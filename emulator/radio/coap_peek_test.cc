#include "emulator/radio/coap_peek.h"

#include <gtest/gtest.h>

#include "emulator/radio/test_messages.h"

namespace hil::radio {
namespace {

using namespace test;

TEST(PeekCoap, BootstrapFinish_TypeCodeMidTokenPath) {
  const Bytes finish = coap(kCon, kPost, 0x1234, {0xAB, 0xCD}, {"bs"});
  const std::optional<CoapPeek> p = peek_coap(finish.data(), finish.size());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, kCon);
  EXPECT_EQ(p->code, kPost);
  EXPECT_EQ(p->mid, 0x1234);
  EXPECT_EQ(p->token, (Bytes{0xAB, 0xCD}));
  EXPECT_EQ(p->path, "/bs");
}

TEST(PeekCoap, ByteExactWrite_PathSkipsOtherOptions) {
  // CON PUT /1/0/1, Content-Format 11542 (TLV), payload: hand-encoded.
  const Bytes write{0x41, 0x03, 0x00, 0x07, 0x99,       // header, token 0x99
                    0xB1, '1',  0x01, '0',  0x01, '1',  // Uri-Path 1, 0, 1
                    0x12, 0x2D, 0x16,                   // Content-Format 11542
                    0xFF, 0xC1, 0x01, 0x2A};            // payload marker, TLV
  const std::optional<CoapPeek> p = peek_coap(write.data(), write.size());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, kPut);
  EXPECT_EQ(p->path, "/1/0/1");
}

TEST(PeekCoap, EmptyAckAndPiggybackedResponse) {
  const Bytes empty = coap(kAck, 0, 7, {});
  const Bytes changed = coap(kAck, kChanged, 8, {1, 2, 3, 4, 5, 6, 7, 8});
  const auto e = peek_coap(empty.data(), empty.size());
  const auto c = peek_coap(changed.data(), changed.size());
  ASSERT_TRUE(e && c);
  EXPECT_EQ(e->type, kAck);
  EXPECT_EQ(e->code, 0);
  EXPECT_EQ(e->path, "");
  EXPECT_EQ(c->code, kChanged);
  EXPECT_EQ(c->token.size(), 8u);
}

TEST(PeekCoap, ExtendedDeltaAndLength) {
  Bytes m = coap(kCon, kGet, 1, {});
  add_option(m, 11, std::string(20, 'a'));  // length 13 + 7
  add_option(m, 0, std::string(300, 'b'));  // length 269 + 31
  add_option(m, 49, "x");                   // delta 13 + 36 -> option 60
  add_option(m, 2000, "y");                 // delta 269 + 1731
  const auto p = peek_coap(m.data(), m.size());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path, "/" + std::string(20, 'a') + "/" + std::string(300, 'b'));
}

TEST(PeekCoap, Malformed_Rejected) {
  const Bytes version2{0x80, 0x01, 0, 1};
  const Bytes token9{0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const Bytes short_token{0x44, 0x01, 0, 1, 1, 2};
  const Bytes marker_without_payload{0x40, 0x01, 0, 1, 0xFF};
  const Bytes reserved_delta{0x40, 0x01, 0, 1, 0xF1, 'x'};
  const Bytes length_past_end{0x40, 0x01, 0, 1, 0xB5, 'b', 's'};
  for (const Bytes& b :
       {version2, token9, short_token, marker_without_payload, reserved_delta, length_past_end}) {
    EXPECT_FALSE(peek_coap(b.data(), b.size())) << b.size();
  }
  EXPECT_FALSE(peek_coap(nullptr, 0));
}

TEST(PeekCoap, TruncatedAtEveryByte_NeverReadsPastOrInventsPath) {
  Bytes m = coap(kCon, kPost, 9, {1, 2, 3}, {"bs", std::string(40, 'q')}, "payload");
  const std::string full = "/bs/" + std::string(40, 'q');
  for (size_t n = 0; n < m.size(); ++n) {
    // A copy of exactly n bytes lets AddressSanitizer catch any read past it.
    const Bytes cut(m.begin(), m.begin() + n);
    const auto p = peek_coap(cut.data(), cut.size());
    if (p) {
      EXPECT_EQ(full.compare(0, p->path.size(), p->path), 0) << n;
    }
    if (n < 7) {
      EXPECT_FALSE(p) << n;
    }
  }
  EXPECT_TRUE(peek_coap(m.data(), m.size()));
}

TEST(PeekDtls, RecordTypes) {
  for (uint8_t type : {20, 21, 22, 23}) {
    const Bytes r = dtls_record(type, 5);
    EXPECT_EQ(peek_dtls_content_type(r.data(), r.size()), type);
  }
  Bytes two = dtls_record(20, 1);
  const Bytes finished = dtls_record(22, 40);
  two.insert(two.end(), finished.begin(), finished.end());
  EXPECT_EQ(peek_dtls_content_type(two.data(), two.size()), 20);  // the first record's type
}

TEST(PeekDtls, Inconsistent_Rejected) {
  Bytes bad_type = dtls_record(22, 4);
  bad_type[0] = 26;
  Bytes bad_version = dtls_record(22, 4);
  bad_version[2] = 0x03;
  Bytes too_long = dtls_record(22, 4);
  too_long[12] = 5;
  for (const Bytes& b : {bad_type, bad_version, too_long}) {
    EXPECT_FALSE(peek_dtls_content_type(b.data(), b.size()));
  }
  const Bytes r = dtls_record(23, 0);
  for (size_t n = 0; n < r.size(); ++n) EXPECT_FALSE(peek_dtls_content_type(r.data(), n));
  const Bytes coap_msg = coap(kCon, kPost, 1, {}, {"bs"});
  EXPECT_FALSE(peek_dtls_content_type(coap_msg.data(), coap_msg.size()));
}

}  // namespace
}  // namespace hil::radio
