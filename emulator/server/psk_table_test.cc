#include "emulator/server/psk_table.h"

#include <gtest/gtest.h>

namespace hil::server {
namespace {

class PskTableTest : public testing::Test {
 protected:
  void SetUp() override {
    table_.add({"dev-*", "id-{endpoint}", {1, 2}});
    table_.add({"gw-?", "gateways", {3}});
  }
  PskTable table_;
};

TEST_F(PskTableTest, KeyFor_TemplateOrLiteral_ThatEntrysKey) {
  EXPECT_EQ(table_.key_for("id-dev-7"), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(table_.key_for("gateways"), std::vector<uint8_t>{3});
}

TEST_F(PskTableTest, KeyFor_TemplateOutsideGlobOrUnknown_None) {
  EXPECT_FALSE(table_.key_for("id-gw-1"));
  EXPECT_FALSE(table_.key_for("id-"));
  EXPECT_FALSE(table_.key_for("stranger"));
}

TEST_F(PskTableTest, Allows_TemplatedIdentity_OnlyItsOwnEndpoint) {
  EXPECT_TRUE(table_.allows("id-dev-7", "dev-7"));
  EXPECT_FALSE(table_.allows("id-dev-7", "dev-8"));
  EXPECT_EQ(table_.endpoint_of("id-dev-7"), "dev-7");
}

TEST_F(PskTableTest, Allows_LiteralIdentity_AnyEndpointOfItsGlob) {
  EXPECT_TRUE(table_.allows("gateways", "gw-1"));
  EXPECT_FALSE(table_.allows("gateways", "dev-1"));
  EXPECT_EQ(table_.endpoint_of("gateways"), "");
}

TEST_F(PskTableTest, Refusal_NoSecForCoveredEndpoint_Refused) {
  EXPECT_EQ(table_.refusal(false, "", "other"), std::nullopt);
  ASSERT_TRUE(table_.refusal(false, "", "dev-1"));
  EXPECT_NE(table_.refusal(false, "", "dev-1")->find("must use DTLS"), std::string::npos);
}

TEST_F(PskTableTest, Refusal_DtlsWithAnotherEndpointsIdentity_Refused) {
  EXPECT_EQ(table_.refusal(true, "id-dev-1", "dev-1"), std::nullopt);
  ASSERT_TRUE(table_.refusal(true, "id-dev-1", "dev-2"));
  EXPECT_EQ(*table_.refusal(true, "id-dev-1", "dev-2"),
            "PSK identity \"id-dev-1\" may not act as dev-2");
  EXPECT_NE(table_.refusal(true, "id-x", "other")->find("NoSec only"), std::string::npos);
}

}  // namespace
}  // namespace hil::server
