#include "emulator/coap/context.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "emulator/coap/address.h"

namespace hil::coap {
namespace {

struct Recorder : Context::Handler {
  std::optional<lwm2m::Response> on_request(coap_session_t*, const lwm2m::Request& r) override {
    requests.push_back(r);
    return lwm2m::Response{lwm2m::Code::Changed,
                           lwm2m::format::kText,
                           lwm2m::Bytes{'n', static_cast<uint8_t>('0' + requests.size())},
                           {"rd", "7"}};
  }
  void on_response(coap_session_t*, uint64_t tag, const lwm2m::Response& r) override {
    responses.emplace_back(tag, r);
  }
  void on_failure(coap_session_t*, uint64_t tag, coap_nack_reason_t reason) override {
    failures.emplace_back(tag, reason);
  }
  void on_session_event(coap_session_t*, SessionEvent e) override { events.push_back(e); }
  std::vector<lwm2m::Request> requests;
  std::vector<std::pair<uint64_t, lwm2m::Response>> responses;
  std::vector<std::pair<uint64_t, coap_nack_reason_t>> failures;
  std::vector<SessionEvent> events;
};

const std::vector<uint8_t> kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// A server that knows one identity, "dev-1", with kKey.
PskLookup one_identity() {
  return [](coap_session_t*, const std::string& identity) -> std::optional<std::vector<uint8_t>> {
    if (identity != "dev-1") return std::nullopt;
    return kKey;
  };
}

bool spin(const std::vector<Context*>& ctxs, const std::function<bool()>& done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    for (Context* c : ctxs) c->process();
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(Context, Send_ToListeningServer_ResponseCarriesTag) {
  Recorder server_side, client_side;
  Context server(server_side, 1), client(client_side, 2);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0")).ok());
  ASSERT_NE(port_of(server.listen_address()), 0);
  coap_session_t* s = client.connect(device_address(5), server.listen_address(), Timing{});
  ASSERT_NE(s, nullptr);
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"bs"};
  r.query = {"ep=dev-1", "Finish=true"};
  ASSERT_TRUE(client.send(s, r, 77));
  ASSERT_TRUE(spin({&server, &client}, [&] { return !client_side.responses.empty(); }));
  ASSERT_EQ(server_side.requests.size(), 1u);
  EXPECT_EQ(server_side.requests[0].query, r.query);
  EXPECT_EQ(client_side.responses[0].first, 77u);
  EXPECT_EQ(client_side.responses[0].second.code, lwm2m::Code::Changed);
  EXPECT_EQ(client_side.responses[0].second.location_path, (std::vector<std::string>{"rd", "7"}));
  client.release(s);
}

TEST(Context, Dtls_RightKey_ConnectedEventThenResponseAndServerKnowsIdentity) {
  Recorder server_side, client_side;
  Context server(server_side, 1), client(client_side, 2);
  Timing fast{50, 1.0, 4};
  server.accept_psk(one_identity(), 10, fast);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0"), /*dtls=*/true).ok());
  Psk psk{"dev-1", kKey};
  coap_session_t* s = client.connect(device_address(7), server.listen_address(true), fast, &psk);
  ASSERT_NE(s, nullptr);
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"bs"};
  ASSERT_TRUE(client.send(s, r, 5));
  ASSERT_TRUE(spin({&server, &client}, [&] { return !client_side.responses.empty(); }));
  EXPECT_EQ(client_side.responses[0].first, 5u);
  ASSERT_EQ(client_side.events, std::vector<SessionEvent>{SessionEvent::DtlsConnected});
  ASSERT_EQ(server_side.requests.size(), 1u);
  client.release(s);
}

TEST(Context, Dtls_WrongKey_HandshakeFailsAndTheRequestWithIt) {
  Recorder server_side, client_side;
  Context server(server_side, 1), client(client_side, 2);
  Timing fast{50, 1.0, 2};
  server.accept_psk(one_identity(), 10, fast);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0"), /*dtls=*/true).ok());
  Psk wrong{"dev-1", std::vector<uint8_t>(16, 0xee)};
  coap_session_t* s = client.connect(device_address(8), server.listen_address(true), fast, &wrong);
  ASSERT_NE(s, nullptr);
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"bs"};
  ASSERT_TRUE(client.send(s, r, 6));
  ASSERT_TRUE(spin({&server, &client}, [&] { return !client_side.failures.empty(); }));
  EXPECT_EQ(client_side.failures[0].first, 6u);
  EXPECT_EQ(client_side.failures[0].second, COAP_NACK_TLS_FAILED);
  EXPECT_TRUE(server_side.requests.empty());
  EXPECT_FALSE(server_side.events.empty());  // the server saw the handshake fail
  client.release(s);
}

TEST(Context, Request_RetransmittedSameMid_HandledOnceAnsweredTwiceAlike) {
  Recorder server_side;
  Context server(server_side, 1);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0")).ok());
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  // CON POST /bs, MID 0x1234, token 0xAB.
  const uint8_t con[] = {0x41, 0x02, 0x12, 0x34, 0xAB, 0xB2, 'b', 's'};
  const sockaddr* to = &server.listen_address().addr.sa;
  std::vector<std::vector<uint8_t>> answers;
  for (int copy = 0; copy < 2; ++copy) {
    ASSERT_EQ(sendto(fd, con, sizeof(con), 0, to, server.listen_address().size),
              static_cast<ssize_t>(sizeof(con)));
    std::vector<uint8_t> buf(256);
    ASSERT_TRUE(spin({&server}, [&] {
      ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) buf.resize(n);
      return n > 0;
    }));
    answers.push_back(buf);
  }
  close(fd);
  EXPECT_EQ(server_side.requests.size(), 1u);
  EXPECT_EQ(answers[0], answers[1]);
  EXPECT_EQ(answers[0][1], 0x44);  // 2.04 piggybacked
}

TEST(Context, Send_NobodyListening_FailureCarriesTag) {
  Recorder client_side;
  Context client(client_side, 3);
  Recorder idle;
  Context closed(idle, 4);
  ASSERT_TRUE(closed.listen(*parse_host_port("127.0.0.1:0")).ok());
  coap_address_t gone = closed.listen_address();
  Timing fast{20, 1.0, 2};
  {
    // Free the port so that nothing answers there.
    Context* c = &closed;
    c->~Context();
    new (c) Context(idle, 4);
  }
  coap_session_t* s = client.connect(device_address(6), gone, fast);
  ASSERT_NE(s, nullptr);
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"rd"};
  ASSERT_TRUE(client.send(s, r, 9));
  ASSERT_TRUE(spin({&client}, [&] { return !client_side.failures.empty(); }));
  EXPECT_EQ(client_side.failures[0].first, 9u);
  client.release(s);
}

// Descriptors this process has open.
size_t open_fds() {
  size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

// What the radio does, at the socket level: carries the datagrams of a
// client context's sessions to their server through one UDP socket of its
// own, one DatagramPort per session, and hands the answers to the port
// that sent last.
struct Relay {
  class Port final : public DatagramPort {
   public:
    Port(Relay& relay, const coap_address_t& to) : relay_(relay), to_(to) {}
    bool send(const uint8_t* data, size_t len) override {
      relay_.last = this;
      return sendto(relay_.fd, data, len, 0, &to_.addr.sa, to_.size) == static_cast<ssize_t>(len);
    }
    void set_receiver(Receiver r) override { receiver = std::move(r); }
    Receiver receiver;

   private:
    Relay& relay_;
    coap_address_t to_;
  };

  explicit Relay(Context& c) : fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) {
    c.carry_through_ports();
  }
  ~Relay() { close(fd); }
  std::unique_ptr<DatagramPort> port(const coap_address_t& to) {
    return std::make_unique<Port>(*this, to);
  }
  void pump() {
    uint8_t buf[1500];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) last->receiver(buf, static_cast<size_t>(n));
  }
  int fd;
  Port* last = nullptr;
};

TEST(Context, DatagramPorts_ManySessions_NoDescriptorEachAndRequestsStillAnswered) {
  Recorder server_side, client_side;
  Context server(server_side, 1), client(client_side, 2);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0")).ok());
  Relay relay(client);
  size_t before = open_fds();
  std::vector<coap_session_t*> sessions;
  for (uint32_t i = 0; i < 500; ++i) {
    sessions.push_back(client.connect(device_address(100 + i), server.listen_address(), Timing{},
                                      nullptr, nullptr, relay.port(server.listen_address())));
    ASSERT_NE(sessions.back(), nullptr);
  }
  EXPECT_EQ(open_fds(), before);
  const coap_address_t* local = coap_session_get_addr_local(sessions[7]);
  EXPECT_EQ(local->addr.sin.sin_addr.s_addr, device_address(107).addr.sin.sin_addr.s_addr);
  EXPECT_EQ(port_of(*coap_session_get_addr_remote(sessions[7])), port_of(server.listen_address()));
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"rd"};
  ASSERT_TRUE(client.send(sessions[7], r, 42));
  ASSERT_TRUE(spin({&server, &client}, [&] {
    relay.pump();
    return !client_side.responses.empty();
  }));
  EXPECT_EQ(client_side.responses[0].first, 42u);
  EXPECT_EQ(server_side.requests.size(), 1u);
  for (coap_session_t* s : sessions) client.release(s);
  EXPECT_EQ(open_fds(), before);
}

// A port that takes nothing, as a radio path that was closed.
struct RefusingPort final : DatagramPort {
  explicit RefusingPort(int* refused) : refused(refused) {}
  bool send(const uint8_t*, size_t) override {
    ++*refused;
    return false;
  }
  void set_receiver(Receiver) override {}
  int* refused;
};

TEST(Context, DatagramPort_Refused_SendFailsInsteadOfUsingASocket) {
  Recorder server_side, client_side;
  Context server(server_side, 1), client(client_side, 2);
  ASSERT_TRUE(server.listen(*parse_host_port("127.0.0.1:0")).ok());
  int refused = 0;
  client.carry_through_ports();
  coap_session_t* s = client.connect(device_address(8), server.listen_address(), Timing{}, nullptr,
                                     nullptr, std::make_unique<RefusingPort>(&refused));
  ASSERT_NE(s, nullptr);
  lwm2m::Request r;
  r.method = lwm2m::Method::Post;
  r.path = {"rd"};
  EXPECT_FALSE(client.send(s, r, 3));
  EXPECT_EQ(refused, 1);
  client.release(s);
}

// A port that says when it goes.
struct WatchedPort final : DatagramPort {
  explicit WatchedPort(bool* gone) : gone(gone) {}
  ~WatchedPort() override { *gone = true; }
  bool send(const uint8_t*, size_t) override { return true; }
  void set_receiver(Receiver) override {}
  bool* gone;
};

TEST(Context, DatagramPorts_SessionOwnsItsPortUntilRelease_NoPortNoSession) {
  Recorder client_side;
  Context client(client_side, 2);
  client.carry_through_ports();
  coap_address_t server = *parse_host_port("127.0.0.1:5683");
  EXPECT_EQ(client.connect(device_address(9), server, Timing{}), nullptr);
  bool gone = false;
  coap_session_t* s = client.connect(device_address(9), server, Timing{}, nullptr, nullptr,
                                     std::make_unique<WatchedPort>(&gone));
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(gone);
  client.release(s);
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace hil::coap
