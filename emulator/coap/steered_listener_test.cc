// A steered listener sends each client to a context by its IPv4
// source address alone: a real UDP client from 127.1.0.N always reaches
// context N % contexts, from whatever port it sends.
#include "emulator/coap/steered_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "emulator/coap/address.h"

namespace hil::coap {
namespace {

// Which context each request reached.
struct WhereFrom : Context::Handler {
  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request&) override {
    reached.push_back(&Context::owner(s));
    return lwm2m::Response{lwm2m::Code::Content, {}, {}, {}};
  }
  void on_response(coap_session_t*, uint64_t, const lwm2m::Response&) override {}
  void on_failure(coap_session_t*, uint64_t, coap_nack_reason_t) override {}
  std::vector<Context*> reached;
};

// A CON GET from a fresh socket on 127.1.0.`host` to `to`.
void get_from(uint32_t host, const coap_address_t& to, uint16_t mid) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | host);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
  const uint8_t get[] = {0x40, 0x01, static_cast<uint8_t>(mid >> 8), static_cast<uint8_t>(mid)};
  ASSERT_EQ(sendto(fd, get, sizeof(get), 0, &to.addr.sa, to.size), 4);
  close(fd);
}

TEST(SteeredListener, ClientsReachTheContextOfTheirSourceAddress_WhateverTheirPort) {
  constexpr int kContexts = 4;
  WhereFrom handler;
  SteeredListener listener(handler, 7, kContexts);
  auto any = parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(any);
  ASSERT_TRUE(listener.listen(*any));
  std::map<const Context*, int> index;
  for (int i = 0; i < kContexts; ++i) index[listener.contexts()[i].get()] = i;

  uint16_t mid = 1;
  for (int round = 0; round < 3; ++round) {  // a new source port each time
    for (uint32_t host = 1; host <= 8; ++host) {
      handler.reached.clear();
      get_from(host, listener.address(), mid++);
      auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (handler.reached.empty() && std::chrono::steady_clock::now() < end) {
        for (const auto& c : listener.contexts()) c->process();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_EQ(handler.reached.size(), 1u) << "host " << host;
      EXPECT_EQ(index[handler.reached[0]], static_cast<int>(host % kContexts)) << "host " << host;
    }
  }
}

// Port 0 with SO_REUSEPORT set may be given a port that another socket of
// the same user shares: many decoys make it likely for a dozen listeners,
// and a plain bind first must avoid every one of them.
TEST(SteeredListener, PortZeroNeverJoinsAPortThatOthersShare) {
  constexpr int kDecoys = 8000;
  std::set<uint16_t> shared;
  std::vector<int> decoys;
  for (int i = 0; i < kDecoys; ++i) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    decoys.push_back(fd);
    int on = 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)), 0);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    shared.insert(ntohs(a.sin_port));
  }
  WhereFrom handler;
  for (int i = 0; i < 12; ++i) {
    SteeredListener listener(handler, 7, 2);
    auto any = parse_host_port("127.0.0.1:0");
    ASSERT_TRUE(any);
    ASSERT_TRUE(listener.listen(*any));
    EXPECT_EQ(shared.count(port_of(listener.address())), 0u) << port_of(listener.address());
  }
  for (int fd : decoys) close(fd);
}

}  // namespace
}  // namespace hil::coap
