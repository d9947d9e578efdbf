// The radio's paths, as native and QEMU devices use them: what a path's
// DatagramPort sends goes through the path's link to a real UDP server,
// seen from the device's own 127.1.x.y; the server's answer reaches the
// port's receiver; faults, newer paths and closed ones apply.
#include "emulator/radio/radio.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "emulator/runtime/loop.h"

namespace hil {
namespace {

class RadioTest : public ::testing::Test {
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
    server_ = Ipv4SocketAddress{ntohl(a.sin_addr.s_addr), ntohs(a.sin_port)};
  }
  void TearDown() override {
    loop_.call([&] {
      ports_.clear();  // before the radio they belong to
      radio_.reset();
    });
    loop_.stop();
    close(server_fd_);
  }

  // A path to the server; the fixture owns its port, test code closes it.
  size_t open(std::vector<std::string>* into = nullptr) {
    if (into == nullptr) into = &delivered_;
    return loop_.call([&] {
      auto port = radio_->open_path(
          device_ip_, server_,
          radio::Route{&link_, [this](Event e) { events_.push_back(e.detail); }, nullptr});
      port->set_receiver([into](const uint8_t* data, size_t len) {
        into->emplace_back(reinterpret_cast<const char*>(data), len);
      });
      ports_.push_back(std::move(port));
      return ports_.size() - 1;
    });
  }
  bool send(size_t port, const std::string& text) {
    return loop_.call([&] {
      return ports_[port]->send(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    });
  }
  void close_path(size_t port) {
    loop_.call([&] { ports_[port].reset(); });
  }
  // The server answers `to` and the radio delivers it (or not).
  std::vector<std::string> answer(const sockaddr_in& to, const std::string& text,
                                  const std::vector<std::string>& list) {
    sendto(server_fd_, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&to),
           sizeof to);
    for (int i = 0; i < 40 && snapshot(list).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return snapshot(list);
  }
  std::vector<std::string> snapshot(const std::vector<std::string>& list) {
    return loop_.call([&] { return list; });
  }
  // What the server got, and from where; "" after the timeout.
  std::string receive(sockaddr_in* from) {
    char buf[256];
    socklen_t len = sizeof *from;
    ssize_t n = recvfrom(server_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(from), &len);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  RealClock clock_;
  runtime::Loop loop_{clock_};
  std::unique_ptr<radio::Radio> radio_;
  radio::Link link_{radio::LinkConfig{}, 1};
  int server_fd_ = -1;
  Ipv4SocketAddress server_;
  uint32_t device_ip_ = 0x7F011092;  // 127.1.16.146
  std::vector<std::unique_ptr<DatagramPort>> ports_;
  std::vector<std::string> delivered_, events_;
};

TEST_F(RadioTest, Send_ReachesServerFromDeviceAddress_AnswerGoesToReceiver) {
  size_t port = open();
  ASSERT_TRUE(send(port, "hello"));
  sockaddr_in from{};
  ASSERT_EQ(receive(&from), "hello");
  EXPECT_EQ(ntohl(from.sin_addr.s_addr), device_ip_);  // 127.1.x.y
  EXPECT_EQ(answer(from, "world", delivered_), std::vector<std::string>{"world"});
  auto c = loop_.call([&] { return link_.counters(); });
  EXPECT_EQ(c.uplink.delivered, 1u);
  EXPECT_EQ(c.downlink.delivered, 1u);
}

TEST_F(RadioTest, Send_LinkFaultsApply) {
  radio::LinkConfig lossy;
  lossy.loss = 1.0;
  ASSERT_TRUE(link_.configure(lossy));
  size_t port = open();
  ASSERT_TRUE(send(port, "lost"));
  sockaddr_in from{};
  EXPECT_EQ(receive(&from), "");
  auto c = loop_.call([&] { return link_.counters(); });
  EXPECT_EQ(c.uplink.dropped_loss, 1u);
  auto ev = loop_.call([&] { return events_; });
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], "up: dropped by loss");
}

TEST_F(RadioTest, Send_OnAPathClosedByTheNewerPort_FailsAndCounts) {
  size_t older = open();
  size_t newer = open();
  close_path(newer);
  EXPECT_FALSE(send(older, "gone"));
  EXPECT_EQ(loop_.call([&] { return radio_->send_failed(); }), 1u);
}

TEST_F(RadioTest, NewerPath_TakesTheAnswers_OlderPortCannotCloseIt) {
  std::vector<std::string> first, second;
  size_t older = open(&first);
  size_t newer = open(&second);
  close_path(older);
  ASSERT_TRUE(send(newer, "hello"));
  sockaddr_in from{};
  ASSERT_EQ(receive(&from), "hello");
  EXPECT_EQ(answer(from, "world", second), std::vector<std::string>{"world"});
  EXPECT_TRUE(snapshot(first).empty());
}

TEST_F(RadioTest, NatRebinding_ServerSeesNewPort_OldPortNoLongerDelivers) {
  size_t port = open();
  ASSERT_TRUE(send(port, "before"));
  sockaddr_in before{};
  ASSERT_EQ(receive(&before), "before");
  loop_.call([&] { link_.rebind_nat(); });
  ASSERT_TRUE(send(port, "after"));
  sockaddr_in after{};
  ASSERT_EQ(receive(&after), "after");
  EXPECT_EQ(after.sin_addr.s_addr, before.sin_addr.s_addr);
  EXPECT_NE(after.sin_port, before.sin_port);
  EXPECT_TRUE(answer(before, "stale", delivered_).empty());
  EXPECT_EQ(answer(after, "fresh", delivered_), std::vector<std::string>{"fresh"});
}

TEST_F(RadioTest, DelayedDownlink_ForAClosedPath_IsLost) {
  radio::LinkConfig slow;
  slow.delay_ms = 100;
  ASSERT_TRUE(link_.configure(slow));
  size_t port = open();
  ASSERT_TRUE(send(port, "hello"));
  sockaddr_in from{};
  ASSERT_EQ(receive(&from), "hello");
  sendto(server_fd_, "late", 4, 0, reinterpret_cast<const sockaddr*>(&from), sizeof from);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  close_path(port);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(snapshot(delivered_).empty());
}

// Datagrams that arrive while the loop is busy wait in the socket and are
// read in one recvmmsg(), each whole (sizes up to past a page) and in the
// order sent.
TEST_F(RadioTest, Downlink_QueuedDatagrams_OneReceiveCall_InOrderAndIntact) {
  size_t port = open();
  ASSERT_TRUE(send(port, "hello"));
  sockaddr_in from{};
  ASSERT_EQ(receive(&from), "hello");
  std::vector<std::string> sent;
  for (size_t i = 0; i < 5; ++i) sent.push_back(std::string(1 + i * 1500, char('a' + i)));
  uint64_t calls_before = loop_.call([&] {
    // The loop is busy here: all five are queued before the radio reads.
    for (const auto& d : sent)
      sendto(server_fd_, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&from),
             sizeof from);
    return radio_->batches().receive_calls;
  });
  for (int i = 0; i < 100 && snapshot(delivered_).size() < sent.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(snapshot(delivered_), sent);
  EXPECT_EQ(loop_.call([&] { return radio_->batches().receive_calls; }), calls_before + 1);
}

// What devices send in one turn of the loop leaves in one sendmmsg(), in
// the order sent, each from its device's address.
TEST_F(RadioTest, Uplink_SendsOfOneTurn_OneSendCall_InOrder) {
  auto one_socket = loop_.call([&] { return radio::Radio::open(loop_, 1); });
  ASSERT_TRUE(one_socket);
  auto radio = std::move(*one_socket);
  std::vector<std::string> sent = {"one", "two", std::string(3000, 'x'), "four"};
  loop_.call([&] {
    auto a = radio->open_path(device_ip_, server_, radio::Route{&link_, nullptr, nullptr});
    auto b = radio->open_path(device_ip_ + 1, server_, radio::Route{&link_, nullptr, nullptr});
    for (size_t i = 0; i < sent.size(); ++i) {
      auto& p = i % 2 == 0 ? a : b;
      p->send(reinterpret_cast<const uint8_t*>(sent[i].data()), sent[i].size());
    }
    EXPECT_EQ(radio->batches().send_calls, 0u);  // not before the turn ends
    ports_.push_back(std::move(a));
    ports_.push_back(std::move(b));
  });
  std::vector<std::string> got;
  std::vector<uint32_t> sources;
  char buf[4096];
  for (size_t i = 0; i < sent.size(); ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(server_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    ASSERT_GT(n, 0);
    got.emplace_back(buf, static_cast<size_t>(n));
    sources.push_back(ntohl(from.sin_addr.s_addr));
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(sources,
            (std::vector<uint32_t>{device_ip_, device_ip_ + 1, device_ip_, device_ip_ + 1}));
  auto b = loop_.call([&] { return radio->batches(); });
  EXPECT_EQ(b.send_calls, 1u);
  EXPECT_EQ(b.sent, sent.size());
  loop_.call([&] {
    ports_.clear();
    radio.reset();
  });
}

// A datagram the kernel refuses in the middle of a batch cuts sendmmsg()
// short: it is counted and reported, and the rest of the batch still
// leaves, in order.
TEST_F(RadioTest, Uplink_RefusedInTheMiddleOfABatch_CountedAndTheRestLeave) {
  auto one_socket = loop_.call([&] { return radio::Radio::open(loop_, 1); });
  ASSERT_TRUE(one_socket);
  auto radio = std::move(*one_socket);
  Ipv4SocketAddress broadcast{0xFFFFFFFF, server_.port};  // no SO_BROADCAST: EACCES
  loop_.call([&] {
    auto good = radio->open_path(device_ip_, server_, radio::Route{&link_, nullptr, nullptr});
    auto bad = radio->open_path(
        device_ip_, broadcast,
        radio::Route{&link_, [this](Event e) { events_.push_back(e.detail); }, nullptr});
    good->send(reinterpret_cast<const uint8_t*>("first"), 5);
    bad->send(reinterpret_cast<const uint8_t*>("refused"), 7);
    good->send(reinterpret_cast<const uint8_t*>("third"), 5);
    ports_.push_back(std::move(good));
    ports_.push_back(std::move(bad));
  });
  sockaddr_in from{};
  EXPECT_EQ(receive(&from), "first");
  EXPECT_EQ(receive(&from), "third");
  auto b = loop_.call([&] { return radio->batches(); });
  EXPECT_EQ(b.sent, 2u);
  EXPECT_EQ(b.send_calls, 3u);  // up to the refusal, the refusal, then the rest
  EXPECT_EQ(loop_.call([&] { return radio->send_failed(); }), 1u);
  auto ev = loop_.call([&] { return events_; });
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], "up: send failed: Permission denied");
  loop_.call([&] {
    ports_.clear();
    radio.reset();
  });
}

// A server on the loop's switchboard gets a device's datagram, and the
// device its answer, without a system call on the radio's sockets and
// without the server's socket seeing it; a server that is not on the board
// still gets its datagrams through the kernel.
TEST_F(RadioTest, Switchboard_ServerOfThisLoop_NoSystemCall_OthersStillBySocket) {
  const Ipv4SocketAddress switched{ipv4(127, 0, 0, 1), static_cast<uint16_t>(server_.port + 1)};
  std::vector<std::string> heard;
  Ipv4SocketAddress heard_from{};
  std::vector<std::string> answers;
  loop_.call([&] {
    Switchboard& board = loop_.switchboard();
    radio_->switch_through(board);
    // Answers inside its receive call, as libcoap does.
    board.attach(switched, [&](const Ipv4SocketAddress& from, const Ipv4SocketAddress&,
                               const uint8_t* data, size_t len) {
      heard.emplace_back(reinterpret_cast<const char*>(data), len);
      heard_from = from;
      EXPECT_TRUE(board.send(switched, from, reinterpret_cast<const uint8_t*>("answer"), 6));
      EXPECT_TRUE(answers.empty());  // the device hears it in a later turn
    });
    auto port = radio_->open_path(device_ip_, switched, radio::Route{&link_, nullptr, nullptr});
    port->set_receiver([&](const uint8_t* data, size_t len) {
      answers.emplace_back(reinterpret_cast<const char*>(data), len);
    });
    port->send(reinterpret_cast<const uint8_t*>("switched"), 8);
    ports_.push_back(std::move(port));
  });
  size_t by_socket = open();
  ASSERT_TRUE(send(by_socket, "by socket"));
  sockaddr_in from{};
  EXPECT_EQ(receive(&from), "by socket");
  EXPECT_EQ(receive(&from), "");  // the switched datagram never reached a socket
  EXPECT_EQ(snapshot(heard), std::vector<std::string>{"switched"});
  EXPECT_EQ(loop_.call([&] { return heard_from.ip; }), device_ip_);
  EXPECT_EQ(snapshot(answers), std::vector<std::string>{"answer"});
  auto b = loop_.call([&] { return radio_->batches(); });
  EXPECT_EQ(b.switched_up, 1u);
  EXPECT_EQ(b.switched_down, 1u);
  EXPECT_EQ(b.sent, 1u);  // "by socket" alone
  EXPECT_EQ(b.received, 0u);
  auto c = loop_.call([&] { return link_.counters(); });
  EXPECT_EQ(c.uplink.delivered, 2u);  // the link applies to both
  EXPECT_EQ(c.downlink.delivered, 1u);
  loop_.call([&] { loop_.switchboard().detach(switched); });
}

}  // namespace
}  // namespace hil
