#include "tests/bench/raw_udp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace hil::bench {
namespace {

constexpr size_t kDatagram = 40;  // about a small CoAP request
constexpr int kMaxEvents = 64;

using Clock = std::chrono::steady_clock;

// Closes every descriptor it was given, whatever way the measurement ends.
class Fds {
 public:
  ~Fds() {
    for (int fd : fds_) close(fd);
  }
  int add(int fd) {
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int udp_socket() { return socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0); }

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// With a thousand requests in flight the default 208 KiB buffer drops
// datagrams (DESIGN.md); the server's own sockets get the same treatment.
void enlarge_receive_buffer(int fd) {
  int bytes = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

// Echoes every datagram to its sender until `stop`.
void serve(int fd, const std::atomic<bool>& stop) {
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  char buf[2048];
  epoll_event events[1];
  while (!stop.load(std::memory_order_relaxed)) {
    if (epoll_wait(ep, events, 1, 10) <= 0) continue;
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n;
    while ((n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len)) > 0) {
      sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
      len = sizeof(from);
    }
  }
  close(ep);
}

void send_request(int fd) {
  static const char payload[kDatagram] = {0x40, 0x02};  // CON POST, rest zero
  send(fd, payload, sizeof(payload), 0);
}

// Counts answers on the clients' side; each answer sends the next request.
// A lost datagram would silence its socket for good, so a quiet 20 ms
// re-sends on every socket (counted in `restarts`, not hidden).
void run_clients(const std::vector<int>& clients, double seconds, RawUdpResult* out) {
  int ep = epoll_create1(0);
  for (size_t i = 0; i < clients.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, clients[i], &ev);
  }
  for (int fd : clients) send_request(fd);
  char buf[2048];
  epoll_event events[kMaxEvents];
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    int n = epoll_wait(ep, events, kMaxEvents, 20);
    if (n == 0) {
      ++out->restarts;
      for (int fd : clients) send_request(fd);
    }
    // One recv per ready socket, no drain to EAGAIN: each socket has one
    // request in flight, and level-triggered epoll reports any leftover.
    for (int i = 0; i < n; ++i) {
      int fd = clients[events[i].data.u32];
      if (recv(fd, buf, sizeof(buf), 0) > 0) {
        ++out->round_trips;
        send_request(fd);
      }
    }
  }
  out->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  close(ep);
}

}  // namespace

RawUdpResult measure_raw_udp(int peers, double seconds) {
  RawUdpResult r;
  r.peers = peers;
  Fds fds;
  int server = fds.add(udp_socket());
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof(addr);
  if (server < 0 || bind(server, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    r.error = errno_text("server socket");
    return r;
  }
  enlarge_receive_buffer(server);
  std::vector<int> clients;
  for (int i = 0; i < peers; ++i) {
    int fd = fds.add(udp_socket());
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      r.error = errno_text("client socket");
      return r;
    }
    clients.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread server_thread(serve, server, std::cref(stop));
  run_clients(clients, seconds, &r);
  stop = true;
  server_thread.join();
  return r;
}

}  // namespace hil::bench
