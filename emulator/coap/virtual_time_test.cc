#include "emulator/coap/virtual_time.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <mbedtls/entropy.h>
#include <mbedtls/timing.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <thread>
#include <vector>

#include "emulator/coap/address.h"
#include "emulator/coap/context.h"

namespace hil::coap {
namespace {

std::vector<uint8_t> draw(size_t n) {
  std::vector<uint8_t> out(n);
  EXPECT_EQ(coap_prng(out.data(), out.size()), 1);
  return out;
}

TEST(VirtualTime, OutsideAScope_LibcoapReadsTheWallClock) {
  init_library();
  ASSERT_FALSE(virtual_time_active());
  coap_tick_t now;
  coap_ticks(&now);
  EXPECT_NEAR(static_cast<double>(coap_ticks_to_rt(now)), static_cast<double>(std::time(nullptr)),
              2.0);
}

TEST(VirtualTime, InsideAScope_TicksFollowTheVirtualClockFromOneSecond) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 1;
  VirtualTimeScope scope(clock, rng);
  coap_tick_t t;
  coap_ticks(&t);
  EXPECT_EQ(t, static_cast<coap_tick_t>(kVirtualTickOrigin));
  clock.advance_to(93'123);
  coap_ticks(&t);
  EXPECT_EQ(t, static_cast<coap_tick_t>(kVirtualTickOrigin + 93'123));
}

// mbedTLS writes time() into ClientHello and cookies: inside a scope it
// counts from the fixed virtual epoch, so another process, started at
// another second, writes the same bytes.
TEST(VirtualTime, InsideAScope_TimeCountsFromTheVirtualEpoch) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 1;
  clock.advance_to(90'500);
  {
    VirtualTimeScope scope(clock, rng);
    std::time_t out = 0;
    EXPECT_EQ(std::time(&out), kVirtualEpochS + 90);
    EXPECT_EQ(out, kVirtualEpochS + 90);
  }
  EXPECT_GT(std::time(nullptr), kVirtualEpochS + 86400 * 365);  // the wall clock again
}

TEST(VirtualTime, Scope_EndsWithItsLifetime) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 1;
  clock.advance_to(3600'000);
  { VirtualTimeScope scope(clock, rng); }
  EXPECT_FALSE(virtual_time_active());
  coap_tick_t now;
  coap_ticks(&now);
  EXPECT_NEAR(static_cast<double>(coap_ticks_to_rt(now)), static_cast<double>(std::time(nullptr)),
              2.0);
}

TEST(VirtualTime, Prng_SameSeedSameBytes_OtherSeedOtherBytes_RandomOutside) {
  init_library();
  VirtualClock clock;
  auto seeded = [&](uint64_t seed) {
    uint64_t rng = seed;
    VirtualTimeScope scope(clock, rng);
    return draw(37);
  };
  EXPECT_EQ(seeded(7), seeded(7));
  EXPECT_NE(seeded(7), seeded(8));
  EXPECT_NE(draw(16), draw(16));
}

// Outside a scope each thread draws from its own generator, seeded from
// the OS: two threads, and a forked child and its parent, draw other bytes.
TEST(VirtualTime, PrngOutside_OtherThreadOtherBytes) {
  init_library();
  std::vector<uint8_t> here = draw(16), there;
  std::thread([&] { there = draw(16); }).join();
  EXPECT_NE(here, there);
}

TEST(VirtualTime, PrngOutside_ForkedChildDrawsOtherBytesThanItsParent) {
  init_library();
  draw(16);  // the parent's generator is seeded before the fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<uint8_t> child = draw(16);
    _exit(write(fds[1], child.data(), child.size()) == 16 ? 0 : 1);
  }
  close(fds[1]);
  std::vector<uint8_t> parent = draw(16), child(16);
  EXPECT_EQ(read(fds[0], child.data(), child.size()), 16);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent, child);
}

TEST(VirtualTime, RandomCheckpoint_RewindDrawsTheSameBytesAgain_NothingOutsideAScope) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 9;
  {
    VirtualTimeScope scope(clock, rng);
    RandomCheckpoint checkpoint;
    std::vector<uint8_t> first = draw(12);
    checkpoint.rewind();
    EXPECT_EQ(draw(12), first);
  }
  RandomCheckpoint outside;
  outside.rewind();
  EXPECT_NE(draw(16), draw(16));
}

TEST(VirtualTime, MbedtlsEntropy_SeededInsideAScope) {
  init_library();
  VirtualClock clock;
  auto seeded = [&](uint64_t seed) {
    uint64_t rng = seed;
    VirtualTimeScope scope(clock, rng);
    std::vector<unsigned char> out(48);
    EXPECT_EQ(mbedtls_entropy_func(nullptr, out.data(), out.size()), 0);
    return out;
  };
  EXPECT_EQ(seeded(3), seeded(3));
  EXPECT_NE(seeded(3), seeded(4));
}

TEST(VirtualTime, MbedtlsDelayTimer_RunsOnTheVirtualClock) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 1;
  VirtualTimeScope scope(clock, rng);
  clock.advance_to(5000);
  mbedtls_timing_delay_context timer{};
  mbedtls_timing_set_delay(&timer, 1000, 3000);  // DTLS: intermediate and final delay
  EXPECT_EQ(mbedtls_timing_get_delay(&timer), 0);
  clock.advance_to(5999);
  EXPECT_EQ(mbedtls_timing_get_delay(&timer), 0);
  clock.advance_to(6000);
  EXPECT_EQ(mbedtls_timing_get_delay(&timer), 1);
  clock.advance_to(8000);
  EXPECT_EQ(mbedtls_timing_get_delay(&timer), 2);
  mbedtls_timing_set_delay(&timer, 0, 0);
  EXPECT_EQ(mbedtls_timing_get_delay(&timer), -1);  // cancelled
}

// The virtual loop polls again only after a send (runtime/loop.cc): every
// way of sending a datagram counts inside a scope, none outside.
TEST(VirtualTime, VirtualSends_CountsEverySendInsideAScopeOnly) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  coap_address_t to = *parse_host_port("127.0.0.1:0");
  ASSERT_EQ(bind(fd, &to.addr.sa, to.size), 0);
  socklen_t len = sizeof(to.addr.sin);
  ASSERT_EQ(getsockname(fd, &to.addr.sa, &len), 0);
  ASSERT_EQ(connect(fd, &to.addr.sa, to.size), 0);
  uint8_t byte = 1;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  mmsghdr mmsg{msg, 0};
  auto send_all_ways = [&] {
    EXPECT_EQ(send(fd, &byte, 1, 0), 1);
    EXPECT_EQ(sendto(fd, &byte, 1, 0, nullptr, 0), 1);
    EXPECT_EQ(sendmsg(fd, &msg, 0), 1);
    EXPECT_EQ(sendmmsg(fd, &mmsg, 1, 0), 1);
  };
  uint64_t before = virtual_sends();
  send_all_ways();
  EXPECT_EQ(virtual_sends(), before);
  VirtualClock clock;
  uint64_t rng = 1;
  {
    VirtualTimeScope scope(clock, rng);
    send_all_ways();
  }
  EXPECT_EQ(virtual_sends(), before + 4);
  close(fd);
}

struct Failures : Context::Handler {
  std::optional<lwm2m::Response> on_request(coap_session_t*, const lwm2m::Request&) override {
    return std::nullopt;
  }
  void on_response(coap_session_t*, uint64_t, const lwm2m::Response&) override {}
  void on_failure(coap_session_t*, uint64_t, coap_nack_reason_t reason) override {
    failed_at.push_back(clock->now_ms());
    reasons.push_back(reason);
  }
  const Clock* clock = nullptr;
  std::vector<TimeMs> failed_at;
  std::vector<coap_nack_reason_t> reasons;
};

// A nonblocking UDP socket on 127.0.0.1 at an ephemeral port, `remote`
// its address; -1 on failure.
int bound_peer(coap_address_t& remote) {
  int peer = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  remote = *parse_host_port("127.0.0.1:0");
  socklen_t len = sizeof(remote.addr.sin);
  if (peer < 0 || bind(peer, &remote.addr.sa, remote.size) != 0 ||
      getsockname(peer, &remote.addr.sa, &len) != 0) {
    if (peer >= 0) close(peer);
    return -1;
  }
  return peer;
}

lwm2m::Request request_bootstrap() {
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"bs"};
  return r;
}

// A CON to a peer that never answers, stepped as the virtual-time loop
// steps a context: the RFC 7252 schedule (ACK_TIMEOUT x [1, 1.5), doubling,
// 4 retransmissions, give-up at 31 x the first timeout) to the millisecond,
// in no wall time at all.
TEST(VirtualTime, ContextOnVirtualClock_RetransmitsOnTheRfcScheduleThenGivesUp) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 42;
  VirtualTimeScope scope(clock, rng);
  Failures handler;
  handler.clock = &clock;
  Context client(handler, 1);
  coap_address_t remote;
  int peer = bound_peer(remote);
  ASSERT_GE(peer, 0);
  coap_session_t* s = client.connect(device_address(9), remote, Timing{});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(client.send(s, request_bootstrap(), 5));

  std::vector<TimeMs> sent;
  for (int step = 0; step < 100 && handler.failed_at.empty(); ++step) {
    client.process_virtual(true, true);
    uint8_t buf[256];
    while (recv(peer, buf, sizeof(buf), 0) > 0) sent.push_back(clock.now_ms());
    int64_t due = client.due_in_ms();
    if (due < 0) break;
    clock.advance_to(clock.now_ms() + due);
  }
  close(peer);
  ASSERT_EQ(sent.size(), 5u);
  TimeMs first = sent[1] - sent[0];
  EXPECT_GE(first, 2000);
  EXPECT_LT(first, 3000);
  for (size_t i = 1; i < sent.size(); ++i) EXPECT_EQ(sent[i] - sent[i - 1], first << (i - 1));
  ASSERT_EQ(handler.failed_at.size(), 1u);
  EXPECT_EQ(handler.failed_at[0], first * 31);
  EXPECT_EQ(handler.reasons[0], COAP_NACK_TOO_MANY_RETRIES);
  client.release(s);
}

struct Outcomes : Failures {
  void on_response(coap_session_t* s, uint64_t, const lwm2m::Response&) override {
    answered.push_back(s);
  }
  void on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) override {
    Failures::on_failure(s, tag, reason);
    failed.push_back(s);
  }
  std::vector<coap_session_t*> answered, failed;
};

// Forty CONs from one context, whose timeouts T are a permutation of 1.0 to
// 4.9 s (no jitter, one retransmission), a third answered at once: the
// retransmission queue (libcoap patch 0015) puts each in its place and
// takes the answered ones out of the middle, and every other CON still goes
// again at its own T and gives up at 3 T, in no other order.
TEST(VirtualTime, ContextOnVirtualClock_ManyConsQueuedOutOfOrder_EachOnItsOwnSchedule) {
  init_library();
  VirtualClock clock;
  uint64_t rng = 7;
  VirtualTimeScope scope(clock, rng);
  Outcomes handler;
  handler.clock = &clock;
  Context client(handler, 1);
  coap_address_t remote;
  int peer = bound_peer(remote);
  ASSERT_GE(peer, 0);
  constexpr uint32_t kCons = 40;
  std::vector<coap_session_t*> sessions;
  std::vector<TimeMs> timeout;
  for (uint32_t i = 0; i < kCons; ++i) {
    Timing t;
    t.ack_timeout_ms = 1000 + (i * 7 % kCons) * 100;
    t.ack_random_factor = 1.0;
    t.max_retransmit = 1;
    coap_session_t* s = client.connect(device_address(i), remote, t);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(client.send(s, request_bootstrap(), i));
    sessions.push_back(s);
    timeout.push_back(t.ack_timeout_ms);
  }

  // Datagrams by sender (127.1.0.1 + index); every third answered with a
  // piggybacked 2.04 on its first transmission.
  std::vector<std::vector<TimeMs>> sent(kCons);
  for (int step = 0; step < 1000 && handler.failed.size() < kCons; ++step) {
    client.process_virtual(true, true);
    uint8_t buf[256];
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    ssize_t n;
    while ((n = recvfrom(peer, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from),
                         &from_len)) >= 4) {
      uint32_t i = ntohl(from.sin_addr.s_addr) - ((127u << 24 | 1u << 16) + 1);
      ASSERT_LT(i, kCons);
      sent[i].push_back(clock.now_ms());
      if (i % 3 != 0) continue;
      size_t tkl = buf[0] & 0x0f;
      buf[0] = static_cast<uint8_t>(0x60 | tkl);  // ACK, same token
      buf[1] = 0x44;                              // 2.04 Changed
      ASSERT_EQ(sendto(peer, buf, 4 + tkl, 0, reinterpret_cast<sockaddr*>(&from), from_len),
                static_cast<ssize_t>(4 + tkl));
    }
    client.process_virtual(true, true);
    int64_t due = client.due_in_ms();
    if (due < 0) break;
    clock.advance_to(clock.now_ms() + due);
  }
  close(peer);

  for (uint32_t i = 0; i < kCons; ++i) {
    SCOPED_TRACE(i);
    if (i % 3 == 0) {
      EXPECT_EQ(sent[i], std::vector<TimeMs>{0});
      EXPECT_EQ(std::count(handler.answered.begin(), handler.answered.end(), sessions[i]), 1);
    } else {
      ASSERT_EQ(sent[i].size(), 2u);
      EXPECT_EQ(sent[i][0], 0);
      // libcoap keeps the timeout in fixed point: within a few ms of T.
      EXPECT_NEAR(sent[i][1], timeout[i], 10);
      timeout[i] = sent[i][1];
    }
  }
  // Given up in the order of their timeouts, each at 3 T.
  ASSERT_EQ(handler.failed.size(), kCons - (kCons + 2) / 3);
  for (size_t k = 0; k < handler.failed.size(); ++k) {
    size_t i = std::find(sessions.begin(), sessions.end(), handler.failed[k]) - sessions.begin();
    ASSERT_LT(i, kCons);
    EXPECT_EQ(handler.failed_at[k], 3 * timeout[i]);
    if (k > 0) {
      EXPECT_GT(handler.failed_at[k], handler.failed_at[k - 1]);
    }
  }
  for (coap_session_t* s : sessions) client.release(s);
}

}  // namespace
}  // namespace hil::coap
