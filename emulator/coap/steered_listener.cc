#include "emulator/coap/steered_listener.h"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "emulator/coap/address.h"

namespace hil::coap {
namespace {

// SO_REUSEPORT would let us share a port with someone else's socket that
// also set it; a plain bind first proves the port is ours to share.
Status check_free(const coap_address_t& addr) {
  if (port_of(addr) == 0) return ok_status();
  int fd = socket(addr.addr.sa.sa_family, SOCK_DGRAM, 0);
  if (fd < 0)
    return Error{ErrorCode::kIo, std::string("cannot create a socket: ") + std::strerror(errno)};
  int rc = bind(fd, &addr.addr.sa, addr.size);
  int err = errno;
  close(fd);
  if (rc != 0)
    return Error{ErrorCode::kIo, "cannot listen on " + to_string(addr) + ": " + std::strerror(err) +
                                     " (choose another port, or port 0 for a free one)"};
  return ok_status();
}

// Joins `addr`'s SO_REUSEPORT group (after the contexts, so their indices
// in the group are 0..contexts-1 in the order they bound) and gives the group
// a program that returns source address % contexts. The kernel falls back to
// its hash for anything the program cannot read.
Result<int> steer_by_source_address(const coap_address_t& addr, size_t contexts) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Error{ErrorCode::kIo, std::string("cannot create a socket: ") + std::strerror(errno)};
  int on = 1;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF) + 12),  // saddr
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(contexts)),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
      bind(fd, &addr.addr.sa, addr.size) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0) {
    int err = errno;
    close(fd);
    return Error{ErrorCode::kIo, "cannot steer clients over the contexts of " + to_string(addr) +
                                     ": " + std::strerror(err)};
  }
  return fd;
}

}  // namespace

SteeredListener::~SteeredListener() {
  for (int fd : steering_fds_) close(fd);
}

SteeredListener::SteeredListener(Context::Handler& handler, uint64_t seed, int contexts) {
  for (int i = 0; i < (contexts < 1 ? 1 : contexts); ++i)
    contexts_.push_back(std::make_unique<Context>(handler, seed + static_cast<uint64_t>(i)));
}

Status SteeredListener::listen(const coap_address_t& addr, bool dtls) {
  HIL_TRY(check_free(addr));
  HIL_TRY(contexts_[0]->listen(addr, dtls));
  for (size_t i = 1; i < contexts_.size(); ++i) HIL_TRY(contexts_[i]->listen(address(dtls), dtls));
  if (contexts_.size() < 2 || address(dtls).addr.sa.sa_family != AF_INET) return ok_status();
  HIL_TRY_ASSIGN(auto steering, steer_by_source_address(address(dtls), contexts_.size()));
  steering_fds_.push_back(steering);
  return ok_status();
}

}  // namespace hil::coap
