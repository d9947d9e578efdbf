#include "emulator/radio/radio.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "emulator/base/ipv4.h"
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
// Datagrams per recvmmsg()/sendmmsg(): past a few dozen the system call's
// own cost is already spread thin.
constexpr size_t kBatch = 64;
constexpr size_t kControl = CMSG_SPACE(sizeof(in_pktinfo));

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
    if (auto fd = wildcard_socket(bound, draw_seeded_port(seed))) return fd;
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

// recvmmsg()'s buffers: a full-size slot per datagram, so none is cut
// short; pages of a slot are touched only as far as datagrams fill it.
struct Radio::Inbox {
  std::unique_ptr<uint8_t[]> bytes{new uint8_t[kBatch * kMaxDatagram]};
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in from[kBatch];
  alignas(cmsghdr) char control[kBatch][kControl];
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
  r->outboxes_.resize(r->server_fds_.size());
  Radio* self = r.get();
  for (size_t i = 0; i < r->server_fds_.size(); ++i)
    reactor.watch(r->server_fds_[i], [self, i] { self->on_downlink(i); });
  return r;
}

Radio::Radio(Reactor& reactor) : reactor_(reactor) {}

Radio::~Radio() {
  if (board_ != nullptr) {
    for (uint16_t port : server_ports_) board_->detach({0, port});
    if (!switched_.empty()) reactor_.cancel(switched_timer_);
  }
  if (flush_due_) reactor_.cancel(flush_timer_);
  flush_uplink();  // what devices sent in this turn still leaves
  for (int fd : server_fds_) {
    reactor_.unwatch(fd);
    close(fd);
  }
}

void Radio::switch_through(Switchboard& board) {
  board_ = &board;
  for (uint16_t port : server_ports_) {
    board.attach({0, port}, [this](const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                                   const uint8_t* data,
                                   size_t len) { on_switched_down(from, to, data, len); });
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

// In batches until the socket is drained: a batch that comes back short
// means nothing more was queued (the loop calls again if more arrives).
void Radio::on_downlink(size_t port) {
  if (!inbox_) inbox_ = std::make_unique<Inbox>();
  Inbox& in = *inbox_;
  for (size_t taken = 0; taken < kMaxBurst;) {
    for (size_t i = 0; i < kBatch; ++i) {
      in.iov[i] = iovec{in.bytes.get() + i * kMaxDatagram, kMaxDatagram};
      msghdr& m = in.msgs[i].msg_hdr;
      m = msghdr{};
      m.msg_name = &in.from[i];
      m.msg_namelen = sizeof(in.from[i]);
      m.msg_iov = &in.iov[i];
      m.msg_iovlen = 1;
      m.msg_control = in.control[i];
      m.msg_controllen = kControl;
    }
    int n = recvmmsg(server_fds_[port], in.msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    ++batches_.receive_calls;
    batches_.received += static_cast<uint64_t>(n);
    for (int i = 0; i < n; ++i) downlink(port, in.msgs[i], in.from[i]);
    taken += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < kBatch) return;
  }
}

void Radio::downlink(size_t port, mmsghdr& received, const sockaddr_in& from) {
  msghdr& msg = received.msg_hdr;
  uint32_t device_ip = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
      device_ip = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_addr.s_addr;
  }
  arrive(port, device_ip, from.sin_addr.s_addr, from.sin_port,
         static_cast<uint8_t*>(msg.msg_iov->iov_base), received.msg_len);
}

void Radio::arrive(size_t port, uint32_t device_ip, uint32_t server_ip, uint16_t server_port,
                   const uint8_t* data, size_t len) {
  // A datagram to a port the device's NAT binding has left is lost.
  auto it = paths_.find(Key{device_ip, server_ip, server_port});
  if (it != paths_.end() && it->second->port == port)
    forward(*it->second, Direction::Downlink, data, len);
}

// Inside the server's send: the device hears it once the turn ends, so
// that no device runs inside a server's call.
void Radio::on_switched_down(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                             const uint8_t* data, size_t len) {
  if (switched_.empty())
    switched_timer_ = reactor_.at(reactor_.clock().now_ms(), [this] { deliver_switched(); });
  switched_.add(from, to, data, len);
}

void Radio::deliver_switched() {
  DatagramBatch batch;
  std::swap(batch, switched_);  // what devices answer comes in a later turn
  batch.for_each([this](const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                        const uint8_t* data, size_t len) {
    ++batches_.switched_down;
    // The socket the server's datagram would have reached: the one bound to
    // the port it was sent to.
    size_t port = static_cast<size_t>(
        std::find(server_ports_.begin(), server_ports_.end(), to.port) - server_ports_.begin());
    arrive(port, htonl(to.ip), htonl(from.ip), htons(from.port), data, len);
  });
  if (switched_.empty()) {  // keeps the capacity for the next turn
    batch.clear();
    std::swap(batch, switched_);
  }
}

void Radio::forward(Path& p, Direction dir, const uint8_t* data, size_t len) {
  TimeMs now = reactor_.clock().now_ms();
  Verdict v = p.route.link->decide(now, dir, data, len);
  if (v.nat_rebound && server_fds_.size() > 1) {
    flush_uplink();  // what left by the old port reaches the server first
    p.port = (p.port + 1) % server_fds_.size();
  }
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
  Outbox& out = outboxes_[p.port];
  out.datagrams.push_back(Pending{p.key, p.serial, out.bytes.size(), len});
  out.bytes.insert(out.bytes.end(), data, data + len);
  if (flush_due_) return;
  flush_due_ = true;
  // Due at once: runs once the loop has handled the events of this turn.
  flush_timer_ = reactor_.at(reactor_.clock().now_ms(), [this] {
    flush_due_ = false;
    flush_uplink();
  });
}

void Radio::flush_uplink() {
  for (size_t port = 0; port < outboxes_.size(); ++port) send_batch(port);
}

// From each device's own address, on the port its NAT binding holds. A
// short count from sendmmsg() means the next datagram failed or did not
// fit: the rest go in the next call, and a datagram refused outright is
// counted and skipped.
void Radio::send_batch(size_t port) {
  Outbox out;
  std::swap(out, outboxes_[port]);  // a failure's event may queue more
  to_sockets_.clear();
  for (size_t i = 0; i < out.datagrams.size(); ++i) {
    const Pending& d = out.datagrams[i];
    if (board_ != nullptr && board_->send({ntohl(d.key.device_ip), server_ports_[port]},
                                          {ntohl(d.key.server_ip), ntohs(d.key.server_port)},
                                          out.bytes.data() + d.offset, d.len)) {
      ++batches_.switched_up;
      continue;
    }
    to_sockets_.push_back(i);
  }
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in to[kBatch];
  alignas(cmsghdr) char control[kBatch][kControl];
  for (size_t next = 0; next < to_sockets_.size();) {
    size_t n = std::min(kBatch, to_sockets_.size() - next);
    for (size_t i = 0; i < n; ++i) {
      const Pending& d = out.datagrams[to_sockets_[next + i]];
      to[i] = sockaddr_in{};
      to[i].sin_family = AF_INET;
      to[i].sin_addr.s_addr = d.key.server_ip;
      to[i].sin_port = d.key.server_port;
      iov[i] = iovec{out.bytes.data() + d.offset, d.len};
      std::memset(control[i], 0, kControl);
      msghdr& m = msgs[i].msg_hdr;
      m = msghdr{};
      m.msg_name = &to[i];
      m.msg_namelen = sizeof(to[i]);
      m.msg_iov = &iov[i];
      m.msg_iovlen = 1;
      m.msg_control = control[i];
      m.msg_controllen = kControl;
      cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_spec_dst.s_addr = d.key.device_ip;
    }
    int sent = sendmmsg(server_fds_[port], msgs, static_cast<unsigned>(n), 0);
    ++batches_.send_calls;
    if (sent <= 0) {
      uplink_failed(out.datagrams[to_sockets_[next++]], errno);
      continue;
    }
    batches_.sent += static_cast<uint64_t>(sent);
    next += static_cast<size_t>(sent);
  }
  out.datagrams.clear();
  out.bytes.clear();
  if (outboxes_[port].datagrams.empty()) std::swap(out, outboxes_[port]);  // keeps capacity
}

void Radio::uplink_failed(const Pending& d, int err) {
  ++send_failed_;
  auto it = paths_.find(d.key);
  if (it == paths_.end() || it->second->serial != d.serial || !it->second->route.event) return;
  it->second->route.event(Event{reactor_.clock().now_ms(), "radio",
                                std::string("up: send failed: ") + std::strerror(err)});
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
