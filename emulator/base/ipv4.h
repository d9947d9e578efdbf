// An IPv4 address and UDP port in host byte order (127.0.0.1 is
// 0x7F000001): what the radio, its captures and the QEMU frame bridge pass
// around, where libcoap's socket addresses would drag libcoap in.
#pragma once

#include <cstdint>
#include <string>

namespace hil {

struct Ipv4SocketAddress {
  uint32_t ip = 0;
  uint16_t port = 0;

  std::string to_string() const {  // "10.0.2.15:49153"
    return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xFF) + "." +
           std::to_string((ip >> 8) & 0xFF) + "." + std::to_string(ip & 0xFF) + ":" +
           std::to_string(port);
  }
  bool operator==(const Ipv4SocketAddress& o) const { return ip == o.ip && port == o.port; }
  bool operator<(const Ipv4SocketAddress& o) const {
    return ip != o.ip ? ip < o.ip : port < o.port;
  }
};

// Virtual time: the next port a run draws from `*seed` (which it advances),
// so that its ports repeat run after run. 20000-31999: below Linux's
// ephemeral range (32768 and up), where other programs' port-0 binds land
// and would take a drawn port now and then.
inline uint16_t draw_seeded_port(uint64_t* seed) {
  uint64_t z = (*seed += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<uint16_t>(20000 + (z ^ (z >> 31)) % 12000);
}

constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
         static_cast<uint32_t>(c) << 8 | d;
}

}  // namespace hil
