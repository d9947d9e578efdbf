#include "emulator/coap/steered_listener.h"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "emulator/coap/address.h"

namespace hil::coap {
namespace {

// A bind with SO_REUSEPORT (libcoap sets it on server endpoints) may share
// the port of any socket of the same user that set it too, and port 0 may be
// given exactly such a port: another emulator's server, which would then split
// our clients with us. A plain bind counts every socket as taken, so the
// claim binds plainly and only then opens itself to the contexts. They join
// its SO_REUSEPORT group behind it: it is member 0, they are 1..contexts in
// the order they bound.
class PortClaim {
 public:
  static Result<PortClaim> bind_plainly(const coap_address_t& addr) {
    PortClaim claim(socket(addr.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (claim.fd_ < 0)
      return Error{ErrorCode::kIo, std::string("cannot create a socket: ") + std::strerror(errno)};
    claim.address_ = addr;
    int on = 1;
    if (bind(claim.fd_, &addr.addr.sa, addr.size) != 0 ||
        getsockname(claim.fd_, &claim.address_.addr.sa, &claim.address_.size) != 0 ||
        setsockopt(claim.fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      int err = errno;
      return Error{ErrorCode::kIo, "cannot listen on " + to_string(addr) + ": " +
                                       std::strerror(err) +
                                       " (choose another port, or port 0 for a free one)"};
    }
    return claim;
  }
  PortClaim(PortClaim&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), address_(other.address_) {}
  PortClaim& operator=(PortClaim&&) = delete;
  ~PortClaim() {
    if (fd_ >= 0) close(fd_);
  }
  // `addr` with the port the claim was given.
  const coap_address_t& address() const { return address_; }
  int fd() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  explicit PortClaim(int fd) : fd_(fd) {}
  int fd_;
  coap_address_t address_{};
};

// Gives the group of `claim` (member 0) a program that returns 1 + source
// address % contexts, so that the claim itself never receives. The kernel
// falls back to its hash for anything the program cannot read.
Status steer_by_source_address(const PortClaim& claim, size_t contexts) {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF) + 12),  // saddr
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(contexts)),
      BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  if (setsockopt(claim.fd(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0) {
    int err = errno;
    return Error{ErrorCode::kIo, "cannot steer clients over the contexts of " +
                                     to_string(claim.address()) + ": " + std::strerror(err)};
  }
  return ok_status();
}

}  // namespace

SteeredListener::~SteeredListener() {
  for (const auto& at : attached_) board_->detach(at);
  for (int fd : steering_fds_) close(fd);
}

SteeredListener::SteeredListener(Context::Handler& handler, uint64_t seed, int contexts) {
  for (int i = 0; i < (contexts < 1 ? 1 : contexts); ++i)
    contexts_.push_back(std::make_unique<Context>(handler, seed + static_cast<uint64_t>(i)));
}

Status SteeredListener::listen(const coap_address_t& addr, bool dtls) {
  HIL_TRY_ASSIGN(auto claim, PortClaim::bind_plainly(addr));
  for (const auto& context : contexts_) HIL_TRY(context->listen(claim.address(), dtls));
  // Unsteered, the claim would take its share of the kernel's hash: it goes,
  // and the group needs no order.
  if (contexts_.size() < 2 || claim.address().addr.sa.sa_family != AF_INET) return ok_status();
  HIL_TRY(steer_by_source_address(claim, contexts_.size()));
  steering_fds_.push_back(claim.release());
  return ok_status();
}

void SteeredListener::attach(Switchboard& board) {
  board_ = &board;
  for (bool dtls : {false, true}) {
    auto at = ipv4_of(address(dtls));
    if (!at || at->ip == 0 || at->port == 0) continue;
    board.attach(*at, [this, dtls](const Ipv4SocketAddress& from, const Ipv4SocketAddress&,
                                   const uint8_t* data, size_t len) {
      contexts_[from.ip % contexts_.size()]->receive(dtls, from, data, len);
    });
    attached_.push_back(*at);
  }
  for (const auto& context : contexts_) context->answer_through(board);
}

}  // namespace hil::coap
