#include "emulator/base/switchboard.h"

#include <gtest/gtest.h>

#include <vector>

namespace hil {
namespace {

struct Seen {
  Ipv4SocketAddress from, to;
  size_t len;
};

TEST(Switchboard, DeliversToTheAttachedAddressUntilDetached) {
  Switchboard board;
  std::vector<Seen> seen;
  const Ipv4SocketAddress server{ipv4(127, 0, 0, 1), 5683}, device{ipv4(127, 1, 0, 7), 40000};
  board.attach(server, [&](auto& from, auto& to, const uint8_t*, size_t len) {
    seen.push_back({from, to, len});
  });
  const uint8_t datagram[] = {0x40, 0x01, 0x00, 0x01};
  EXPECT_TRUE(board.send(device, server, datagram, sizeof datagram));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].from, device);
  EXPECT_EQ(seen[0].len, 4u);
  EXPECT_FALSE(board.send(device, {ipv4(127, 0, 0, 1), 5684}, datagram, 4));  // another port
  EXPECT_FALSE(board.send(device, {ipv4(127, 0, 0, 2), 5683}, datagram, 4));  // another host
  board.detach(server);
  EXPECT_FALSE(board.send(device, server, datagram, 4));
  EXPECT_EQ(seen.size(), 1u);
}

TEST(Switchboard, AWildcardAddressTakesItsPortOnLoopbackOnly) {
  Switchboard board;
  std::vector<Seen> seen;
  board.attach({0, 50000}, [&](auto& from, auto& to, const uint8_t*, size_t len) {
    seen.push_back({from, to, len});
  });
  const uint8_t datagram[] = {0x60, 0x44, 0x00, 0x01};
  const Ipv4SocketAddress server{ipv4(127, 0, 0, 1), 5683};
  EXPECT_TRUE(board.send(server, {ipv4(127, 1, 2, 3), 50000}, datagram, 4));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].to, (Ipv4SocketAddress{ipv4(127, 1, 2, 3), 50000}));  // which device
  EXPECT_FALSE(board.send(server, {ipv4(10, 0, 0, 1), 50000}, datagram, 4));
}

}  // namespace
}  // namespace hil
