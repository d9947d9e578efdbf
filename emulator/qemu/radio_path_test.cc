// The radio's entry point for device ends that are not sockets (what a QEMU
// device uses): uplink() through the path's link to a real UDP server, seen
// from the device's own 127.1.x.y; the server's answer to the delivery
// callback; faults and detach apply. No QEMU needed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "emulator/coap/address.h"
#include "emulator/radio/radio.h"
#include "emulator/runtime/loop.h"

namespace hil {
namespace {

class RadioPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.start();
    auto r = loop_.call([&] { return radio::Radio::open(loop_); });
    ASSERT_TRUE(r) << r.error().message;
    radio_ = std::move(*r);
    server_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(server_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(server_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    timeval tv{0, 300 * 1000};
    setsockopt(server_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    coap_address_init(&server_);
    server_.addr.sin = a;
    server_.size = sizeof a;
    path_ = coap::device_address(4242);
    path_.addr.sin.sin_port = htons(1);  // a flow number, not a socket
  }
  void TearDown() override {
    loop_.call([&] { radio_.reset(); });
    loop_.stop();
    close(server_fd_);
  }

  void attach() {
    loop_.call([&] {
      radio_->attach(path_, server_,
                     radio::Route{&link_, [this](Event e) { events_.push_back(e.detail); }, {}},
                     [this](const std::vector<uint8_t>& data) {
                       delivered_.emplace_back(data.begin(), data.end());
                     });
    });
  }
  bool uplink(const std::string& text) {
    return loop_.call([&] {
      return radio_->uplink(path_, reinterpret_cast<const uint8_t*>(text.data()), text.size());
    });
  }
  // What the server got, and from where; "" after the timeout.
  std::string receive(sockaddr_in* from) {
    char buf[256];
    socklen_t len = sizeof *from;
    ssize_t n = recvfrom(server_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(from), &len);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  std::vector<std::string> delivered() {
    return loop_.call([&] { return delivered_; });
  }

  RealClock clock_;
  runtime::Loop loop_{clock_};
  std::unique_ptr<radio::Radio> radio_;
  radio::Link link_{radio::LinkConfig{}, 1};
  int server_fd_ = -1;
  coap_address_t server_{}, path_{};
  std::vector<std::string> delivered_, events_;
};

TEST_F(RadioPathTest, Uplink_ReachesServerFromDeviceAddress_AnswerGoesToCallback) {
  attach();
  ASSERT_TRUE(uplink("hello"));
  sockaddr_in from{};
  ASSERT_EQ(receive(&from), "hello");
  EXPECT_EQ(ntohl(from.sin_addr.s_addr), ntohl(path_.addr.sin.sin_addr.s_addr));  // 127.1.x.y
  ASSERT_EQ(sendto(server_fd_, "world", 5, 0, reinterpret_cast<sockaddr*>(&from), sizeof from), 5);
  for (int i = 0; i < 100 && delivered().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(delivered(), std::vector<std::string>{"world"});
  auto c = loop_.call([&] { return link_.counters(); });
  EXPECT_EQ(c.uplink.delivered, 1u);
  EXPECT_EQ(c.downlink.delivered, 1u);
}

TEST_F(RadioPathTest, Uplink_LinkFaultsApply) {
  radio::LinkConfig lossy;
  lossy.loss = 1.0;
  ASSERT_TRUE(link_.configure(lossy));
  attach();
  ASSERT_TRUE(uplink("lost"));
  sockaddr_in from{};
  EXPECT_EQ(receive(&from), "");
  auto c = loop_.call([&] { return link_.counters(); });
  EXPECT_EQ(c.uplink.dropped_loss, 1u);
  auto ev = loop_.call([&] { return events_; });
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], "up: dropped by loss");
}

TEST_F(RadioPathTest, Uplink_AfterDetach_NoSuchPath) {
  EXPECT_FALSE(uplink("nobody"));
  attach();
  loop_.call([&] { radio_->detach(path_); });
  EXPECT_FALSE(uplink("gone"));
}

}  // namespace
}  // namespace hil
