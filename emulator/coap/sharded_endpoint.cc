#include "emulator/coap/sharded_endpoint.h"

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
  if (fd < 0) return Error{std::string("cannot create a socket: ") + std::strerror(errno)};
  int rc = bind(fd, &addr.addr.sa, addr.size);
  int err = errno;
  close(fd);
  if (rc != 0)
    return Error{"cannot listen on " + to_string(addr) + ": " + std::strerror(err) +
                 " (choose another port, or port 0 for a free one)"};
  return ok_status();
}

}  // namespace

ShardedEndpoint::ShardedEndpoint(Context::Handler& handler, uint64_t seed, int shards) {
  for (int i = 0; i < (shards < 1 ? 1 : shards); ++i)
    contexts_.push_back(std::make_unique<Context>(handler, seed + static_cast<uint64_t>(i)));
}

Status ShardedEndpoint::listen(const coap_address_t& addr, bool dtls) {
  if (auto free = check_free(addr); !free) return free;
  if (auto first = contexts_[0]->listen(addr, dtls); !first) return first;
  for (size_t i = 1; i < contexts_.size(); ++i)
    if (auto st = contexts_[i]->listen(address(dtls), dtls); !st) return st;
  return ok_status();
}

}  // namespace hil::coap
