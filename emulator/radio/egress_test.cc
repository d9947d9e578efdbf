// The egress's checks that need no privilege: the prefix a user types, the
// mapping of device addresses into it, and the route check. Opening the
// egress itself (root, nftables) and a missing route (a namespace of its
// own) are tested end to end in tests/test_egress.py.
#include "emulator/radio/egress.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace hil::radio {
namespace {

TEST(EgressPrefix, Default_Parses) {
  auto p = parse_egress_prefix(kDefaultEgressPrefix);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->base, 0xc6120000u);
  EXPECT_EQ(p->length, 16);
}

TEST(EgressPrefix, BadInput_NamesTheFieldAndTheFix) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"198.18.0.0", "is not an IPv4 prefix A.B.C.D/N"},
        Case{"10.0.0.0/24", "must be /8 to /16"},
        Case{"10.1.2.0/16", "did you mean '10.1.0.0/16'?"}, Case{"127.2.0.0/16", "is not usable"},
        Case{"239.1.0.0/16", "is not usable"}, Case{"nonsense/16", "A.B.C.D/N"}}) {
    auto p = parse_egress_prefix(c.text);
    ASSERT_FALSE(p) << c.text;
    EXPECT_EQ(p.error().message.rfind("egress_prefix: ", 0), 0u) << p.error().message;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos) << p.error().message;
  }
}

TEST(EgressAddress, DeviceAddress_KeepsItsLowBits) {
  uint32_t base = 0x0a400000;   // 10.64.0.0/10
  uint32_t first = 0x7f010001;  // 127.1.0.1, the first device's address
  uint32_t last = 0x7f01fffe;   // 127.1.255.254, the last one's
  EXPECT_EQ(egress_address(base, first), 0x0a400001u);
  EXPECT_EQ(egress_address(base, last), 0x0a40fffeu);
}

TEST(CheckRoute, Loopback_IsReachable) {
  EXPECT_TRUE(check_route(Ipv4SocketAddress{0x7f000001, 5683}));
}

}  // namespace
}  // namespace hil::radio
