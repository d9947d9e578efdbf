#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emulator/qemu/frame_bridge.h"
#include "emulator/qemu/uart_log.h"

namespace hil::qemu {
namespace {

struct Pair {
  int host = -1, guest = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0);
    host = fds[0];
    guest = fds[1];
  }
  ~Pair() {
    ::close(host);
    ::close(guest);
  }
  std::vector<uint8_t> recv_guest() {
    uint8_t buf[2048];
    ssize_t n = ::recv(guest, buf, sizeof buf, 0);
    return n > 0 ? std::vector<uint8_t>(buf, buf + n) : std::vector<uint8_t>{};
  }
};

const Mac kGuestMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(FrameBridge, AnswersArpForTheGatewayAndAnyOtherAddress) {
  Pair p;
  FrameBridge bridge(p.host, nullptr);
  for (uint32_t target : {ipv4(10, 0, 2, 2), ipv4(10, 0, 2, 77)}) {
    std::vector<uint8_t> arp(42, 0);
    std::fill(arp.begin(), arp.begin() + 6, 0xFF);
    std::copy(kGuestMac.begin(), kGuestMac.end(), arp.begin() + 6);
    arp[12] = 0x08, arp[13] = 0x06;
    uint8_t hdr[] = {0, 1, 8, 0, 6, 4, 0, 1};
    std::copy(hdr, hdr + 8, arp.begin() + 14);
    std::copy(kGuestMac.begin(), kGuestMac.end(), arp.begin() + 22);
    uint8_t sip[] = {10, 0, 2, 15};
    std::copy(sip, sip + 4, arp.begin() + 28);
    for (int i = 0; i < 4; ++i) arp[38 + i] = static_cast<uint8_t>(target >> (24 - 8 * i));
    ASSERT_EQ(::send(p.guest, arp.data(), arp.size(), 0), 42);
    bridge.on_readable();
    std::vector<uint8_t> reply = p.recv_guest();
    ASSERT_EQ(reply.size(), 42u);
    EXPECT_TRUE(std::equal(kGuestMac.begin(), kGuestMac.end(), reply.begin()));
    EXPECT_EQ(reply[21], 2);  // ARP reply
    uint32_t answered =
        static_cast<uint32_t>(reply[28]) << 24 | reply[29] << 16 | reply[30] << 8 | reply[31];
    EXPECT_EQ(answered, target);
  }
  EXPECT_EQ(bridge.device_ip(), ipv4(10, 0, 2, 15));
  EXPECT_EQ(bridge.counters().arp_replies, 2u);
}

TEST(FrameBridge, UnwrapsUdpFromTheDeviceAndWrapsAnswers) {
  Pair p;
  std::vector<std::tuple<Ipv4SocketAddress, Ipv4SocketAddress, std::vector<uint8_t>>> got;
  FrameBridge bridge(p.host,
                     [&](const Ipv4SocketAddress& s, const Ipv4SocketAddress& d,
                         std::vector<uint8_t> payload) { got.emplace_back(s, d, payload); });
  Ipv4SocketAddress dev{ipv4(10, 0, 2, 15), 49153}, server{ipv4(127, 0, 0, 1), 5683};
  std::vector<uint8_t> coap{0x40, 0x02, 0x12, 0x34, 0xB2, 'b', 's'};
  auto frame = FrameBridge::udp_frame(Mac{2, 0, 0, 0, 0, 2}, kGuestMac, dev, server, coap, 7);
  ASSERT_EQ(::send(p.guest, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  bridge.on_readable();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<0>(got[0]), dev);
  EXPECT_EQ(std::get<1>(got[0]), server);
  EXPECT_EQ(std::get<2>(got[0]), coap);

  ASSERT_TRUE(bridge.send_to_device(server, dev, {0x60, 0x44, 0x12, 0x34}));
  std::vector<uint8_t> back = p.recv_guest();
  ASSERT_EQ(back.size(), 14u + 20 + 8 + 4);
  EXPECT_TRUE(std::equal(kGuestMac.begin(), kGuestMac.end(), back.begin()));
  EXPECT_EQ(FrameBridge::checksum(back.data() + 14, 20), 0);  // IP header checksum holds
  // UDP checksum over the pseudo-header holds too.
  uint32_t pseudo =
      (server.ip >> 16) + (server.ip & 0xFFFF) + (dev.ip >> 16) + (dev.ip & 0xFFFF) + 17 + 12;
  EXPECT_EQ(FrameBridge::checksum(back.data() + 34, 12, pseudo), 0);
}

TEST(FrameBridge, IgnoresFragmentsAndOtherProtocols) {
  Pair p;
  int datagrams = 0;
  FrameBridge bridge(p.host, [&](auto&&...) { ++datagrams; });
  auto frame = FrameBridge::udp_frame(Mac{}, kGuestMac, {ipv4(10, 0, 2, 15), 1},
                                      {ipv4(10, 0, 2, 2), 2}, {1, 2, 3}, 1);
  frame[14 + 6] = 0x20;  // more fragments
  ::send(p.guest, frame.data(), frame.size(), 0);
  std::vector<uint8_t> ipv6(60, 0);
  ipv6[12] = 0x86, ipv6[13] = 0xDD;
  ::send(p.guest, ipv6.data(), ipv6.size(), 0);
  bridge.on_readable();
  EXPECT_EQ(datagrams, 0);
  EXPECT_EQ(bridge.counters().ignored, 2u);
}

TEST(UartLogParser, SplitsLinesIntoEvents) {
  std::vector<Event> events;
  UartLogParser parser([&](Event e) { events.push_back(std::move(e)); });
  std::string text = "EV 12 state bootstrapping\nEV 40 tx POST /bs?ep=a\r\nboot rom\nEV 7 stats";
  parser.feed(text.data(), 10);
  parser.feed(text.data() + 10, text.size() - 10);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].time_ms, 12);
  EXPECT_EQ(events[0].kind, "state");
  EXPECT_EQ(events[0].detail, "bootstrapping");
  EXPECT_EQ(events[1].detail, "POST /bs?ep=a");
  EXPECT_EQ(events[2].kind, "uart");
  EXPECT_EQ(events[2].detail, "boot rom");
  parser.flush();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].kind, "stats");
  EXPECT_EQ(events[3].detail, "");
  EXPECT_EQ(UartLogParser::parse_line("EV x y z").kind, "uart");
}

}  // namespace
}  // namespace hil::qemu
