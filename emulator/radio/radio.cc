#include "emulator/radio/radio.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "emulator/radio/egress.h"

namespace hil::radio {
namespace {

// One socket carries the traffic of thousands of devices, whose bursts
// (a fleet registering at once) overflow the kernel's default limits. Root
// may exceed net.core.rmem_max with SO_RCVBUFFORCE; others get the capped
// SO_RCVBUF size.
constexpr int kBufferBytes = 64 * 1024 * 1024;
constexpr int kMaxBurst = 1024;  // datagrams per readable event, so other work gets a turn
constexpr size_t kMaxDatagram = 65536;

// Bound to the wildcard address, so that it may send from any device's
// 127.1.x.y (IP_PKTINFO) and learn which one an answer was for. `port` 0:
// any free port.
Result<int> wildcard_socket(sockaddr_in* bound, uint16_t port = 0) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Error{ErrorCode::kIo,
                 std::string("radio: cannot create a socket: ") + std::strerror(errno)};
  int size = kBufferBytes, on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(port);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(bound), &len) != 0) {
    int err = errno;
    close(fd);
    return Error{ErrorCode::kIo, std::string("radio: cannot bind a socket: ") + std::strerror(err)};
  }
  return fd;
}

// A server-facing socket on a port drawn from `seed` (the same seed, the
// same port, unless something else holds it: then the next draw), or on
// any free port without a seed.
Result<int> server_socket(uint64_t* seed, sockaddr_in* bound) {
  for (int attempt = 0; *seed != 0 && attempt < 32; ++attempt) {
    uint64_t z = (*seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    auto port = static_cast<uint16_t>(20000 + (z ^ (z >> 31)) % 30000);
    if (auto fd = wildcard_socket(bound, port)) return fd;
  }
  return wildcard_socket(bound);
}

}  // namespace

struct Radio::Path {
  Key key;
  uint64_t serial;
  Route route;
  size_t port;  // which server-facing socket the server sees
  DatagramPort::Receiver deliver;
};

// A device's end of one path; the radio does the work.
class Radio::Port final : public DatagramPort {
 public:
  Port(Radio& radio, Key key, uint64_t serial) : radio_(radio), key_(key), serial_(serial) {}
  ~Port() override { radio_.close_path(key_, serial_); }
  bool send(const uint8_t* data, size_t len) override { return radio_.uplink(key_, data, len); }
  void set_receiver(Receiver receiver) override {
    radio_.set_receiver(key_, serial_, std::move(receiver));
  }

 private:
  Radio& radio_;
  Key key_;
  uint64_t serial_;
};

// --- capture ------------------------------------------------------------------

Result<std::shared_ptr<Capture>> Capture::open(const std::string& path, const Clock& clock,
                                               const std::string& comment) {
  HIL_TRY_ASSIGN(auto w, PcapngWriter::open(path, comment));
  if (clock.is_virtual()) {  // the same seed, the same bytes
    return std::shared_ptr<Capture>(new Capture(std::move(w), kVirtualEpochUs));
  }
  int64_t wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  return std::shared_ptr<Capture>(new Capture(std::move(w), wall_us - clock.now_ms() * 1000));
}

void Capture::write(TimeMs now, const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                    const uint8_t* data, size_t len, const std::string& comment) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)writer_->write(static_cast<uint64_t>(epoch_us_ + now * 1000), src, dst, data, len, comment);
  (void)writer_->flush();
}

// --- radio --------------------------------------------------------------------

Result<std::unique_ptr<Radio>> Radio::open(Reactor& reactor, int nat_ports, uint64_t port_seed) {
  std::unique_ptr<Radio> r(new Radio(reactor));
  sockaddr_in bound{};
  for (int i = 0; i < (nat_ports < 1 ? 1 : nat_ports); ++i) {
    HIL_TRY_ASSIGN(auto fd, server_socket(&port_seed, &bound));
    r->server_fds_.push_back(fd);
    r->server_ports_.push_back(ntohs(bound.sin_port));
  }
  Radio* self = r.get();
  for (size_t i = 0; i < r->server_fds_.size(); ++i)
    reactor.watch(r->server_fds_[i], [self, i] { self->on_downlink(i); });
  return r;
}

Radio::Radio(Reactor& reactor) : reactor_(reactor) {}

Radio::~Radio() {
  for (int fd : server_fds_) {
    reactor_.unwatch(fd);
    close(fd);
  }
}

Radio::Key Radio::key_of(uint32_t device_ip, Ipv4SocketAddress server) const {
  bool off_loopback = (server.ip >> 24) != 127;
  if (egress_base_ != 0 && off_loopback) device_ip = egress_address(egress_base_, device_ip);
  return Key{htonl(device_ip), htonl(server.ip), htons(server.port)};
}

std::unique_ptr<DatagramPort> Radio::open_path(uint32_t device_ip, Ipv4SocketAddress server,
                                               Route route) {
  Key key = key_of(device_ip, server);
  uint64_t serial = next_serial_++;
  paths_[key] = std::make_unique<Path>(Path{
      key, serial, std::move(route), next_port_++ % server_fds_.size(), DatagramPort::Receiver()});
  return std::make_unique<Port>(*this, key, serial);
}

// By key alone: a session whose path a newer one took over still reaches
// the same server from the same address.
bool Radio::uplink(const Key& key, const uint8_t* data, size_t len) {
  auto it = paths_.find(key);
  if (it == paths_.end()) {
    ++send_failed_;
    return false;
  }
  forward(*it->second, Direction::Uplink, data, len);
  return true;
}

void Radio::set_receiver(const Key& key, uint64_t serial, DatagramPort::Receiver receiver) {
  auto it = paths_.find(key);
  if (it != paths_.end() && it->second->serial == serial) it->second->deliver = std::move(receiver);
}

void Radio::close_path(const Key& key, uint64_t serial) {
  auto it = paths_.find(key);
  if (it != paths_.end() && it->second->serial == serial) paths_.erase(it);
}

void Radio::on_downlink(size_t port) {
  uint8_t buf[kMaxDatagram];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
  for (int i = 0; i < kMaxBurst; ++i) {
    sockaddr_in from{};
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(server_fds_[port], &msg, 0);
    if (n < 0) return;
    uint32_t device_ip = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        device_ip = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_addr.s_addr;
    }
    // A datagram to a port the device's NAT binding has left is lost.
    auto it = paths_.find(Key{device_ip, from.sin_addr.s_addr, from.sin_port});
    if (it != paths_.end() && it->second->port == port)
      forward(*it->second, Direction::Downlink, buf, static_cast<size_t>(n));
  }
}

void Radio::forward(Path& p, Direction dir, const uint8_t* data, size_t len) {
  TimeMs now = reactor_.clock().now_ms();
  Verdict v = p.route.link->decide(now, dir, data, len);
  if (v.nat_rebound && server_fds_.size() > 1) p.port = (p.port + 1) % server_fds_.size();
  capture(p, dir, data, len, v.comment);
  if (v.comment != "passed" && p.route.event)
    p.route.event(Event{now, "radio", (dir == Direction::Uplink ? "up: " : "down: ") + v.comment});
  for (Copy& c : v.copies) {
    if (c.delay_ms <= 0) {
      send(p, dir, c.data.data(), c.data.size());
      continue;
    }
    // The path may be gone by then (the device closed it), or replaced.
    reactor_.at(now + c.delay_ms,
                [this, key = p.key, serial = p.serial, dir, data = std::move(c.data)] {
                  auto it = paths_.find(key);
                  if (it != paths_.end() && it->second->serial == serial)
                    send(*it->second, dir, data.data(), data.size());
                });
  }
}

void Radio::send(Path& p, Direction dir, const uint8_t* data, size_t len) {
  if (dir == Direction::Downlink) {
    if (p.deliver) p.deliver(data, len);
    return;
  }
  // From the device's own address, on the port its NAT binding holds.
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = p.key.server_ip;
  server.sin_port = p.key.server_port;
  iovec iov{const_cast<uint8_t*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &server;
  msg.msg_namelen = sizeof(server);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  auto* info = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c));
  info->ipi_spec_dst.s_addr = p.key.device_ip;
  if (sendmsg(server_fds_[p.port], &msg, 0) >= 0) return;
  ++send_failed_;
  if (p.route.event)
    p.route.event(Event{reactor_.clock().now_ms(), "radio",
                        std::string("up: send failed: ") + std::strerror(errno)});
}

void Radio::capture(const Path& p, Direction dir, const uint8_t* data, size_t len,
                    const std::string& comment) {
  Capture* own = p.route.capture != nullptr ? p.route.capture->get() : nullptr;
  if (!run_capture_ && own == nullptr) return;
  // In virtual time a capture must not depend on the kernel's choice of
  // port, which differs from run to run: it numbers the ports instead.
  uint16_t device_port = reactor_.clock().is_virtual()
                             ? static_cast<uint16_t>(kVirtualNatPort + p.port)
                             : server_ports_[p.port];
  Ipv4SocketAddress device{ntohl(p.key.device_ip), device_port};
  Ipv4SocketAddress server{ntohl(p.key.server_ip), ntohs(p.key.server_port)};
  Ipv4SocketAddress src = dir == Direction::Uplink ? device : server;
  Ipv4SocketAddress dst = dir == Direction::Uplink ? server : device;
  TimeMs now = reactor_.clock().now_ms();
  if (run_capture_) run_capture_->write(now, src, dst, data, len, comment);
  if (own != nullptr && own != run_capture_.get()) own->write(now, src, dst, data, len, comment);
}

}  // namespace hil::radio
