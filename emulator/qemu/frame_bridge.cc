#include "emulator/qemu/frame_bridge.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace hil::qemu {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr size_t kEthHeader = 14;
constexpr size_t kMaxFrame = 1518;

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

FrameBridge::FrameBridge(int fd, OnDatagram on_datagram, BridgeOptions options)
    : fd_(fd), on_datagram_(std::move(on_datagram)), options_(options) {}

uint16_t FrameBridge::checksum(const uint8_t* data, size_t len, uint32_t initial) {
  uint32_t sum = initial;
  for (size_t i = 0; i + 1 < len; i += 2) sum += get16(data + i);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void FrameBridge::on_readable() {
  uint8_t buf[2048];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained; other errors: QEMU is gone, its exit says why
    }
    if (n == 0) return;
    ++counters_.frames_in;
    handle_frame(buf, static_cast<size_t>(n));
  }
}

void FrameBridge::handle_frame(const uint8_t* f, size_t len) {
  if (len < kEthHeader) {
    ++counters_.ignored;
    return;
  }
  std::memcpy(device_mac_.data(), f + 6, 6);
  uint16_t type = get16(f + 12);
  if (type == kEtherArp) {
    handle_arp(f, len);
  } else if (type == kEtherIpv4) {
    handle_ipv4(f, len);
  } else {
    ++counters_.ignored;
  }
}

// Proxy ARP: the bridge is every address but the firmware's own.
void FrameBridge::handle_arp(const uint8_t* f, size_t len) {
  const uint8_t* a = f + kEthHeader;
  if (len < kEthHeader + 28 || get16(a) != 1 || get16(a + 2) != kEtherIpv4 || a[4] != 6 ||
      a[5] != 4 || get16(a + 6) != 1) {
    ++counters_.ignored;  // not an Ethernet/IPv4 request (replies, gratuitous ARP)
    return;
  }
  uint32_t sender_ip = get32(a + 14), target_ip = get32(a + 24);
  if (sender_ip != 0) device_ip_ = sender_ip;
  if (target_ip == sender_ip || target_ip == 0) {  // gratuitous or probe
    ++counters_.ignored;
    return;
  }
  std::vector<uint8_t> r(kEthHeader + 28);
  std::memcpy(r.data(), f + 6, 6);  // to the asker
  std::memcpy(r.data() + 6, options_.gateway_mac.data(), 6);
  put16(r.data() + 12, kEtherArp);
  uint8_t* p = r.data() + kEthHeader;
  put16(p, 1);
  put16(p + 2, kEtherIpv4);
  p[4] = 6;
  p[5] = 4;
  put16(p + 6, 2);  // reply
  std::memcpy(p + 8, options_.gateway_mac.data(), 6);
  put32(p + 14, target_ip);
  std::memcpy(p + 18, a + 8, 6);
  put32(p + 24, sender_ip);
  if (send_frame(r)) ++counters_.arp_replies;
}

void FrameBridge::handle_ipv4(const uint8_t* f, size_t len) {
  const uint8_t* ip = f + kEthHeader;
  size_t avail = len - kEthHeader;
  if (avail < 20 || (ip[0] >> 4) != 4) {
    ++counters_.ignored;
    return;
  }
  size_t ihl = static_cast<size_t>(ip[0] & 0x0F) * 4;
  size_t total = get16(ip + 2);
  bool fragment = (get16(ip + 6) & 0x3FFF) != 0;  // MF set or an offset
  if (ihl < 20 || total < ihl + 8 || total > avail || fragment || ip[9] != 17 ||
      checksum(ip, ihl) != 0) {
    ++counters_.ignored;
    return;
  }
  const uint8_t* udp = ip + ihl;
  size_t udp_len = get16(udp + 4);
  if (udp_len < 8 || udp_len > total - ihl) {
    ++counters_.ignored;
    return;
  }
  Ipv4SocketAddress src{get32(ip + 12), get16(udp)}, dst{get32(ip + 16), get16(udp + 2)};
  device_ip_ = src.ip;
  ++counters_.datagrams_in;
  if (on_datagram_) on_datagram_(src, dst, std::vector<uint8_t>(udp + 8, udp + udp_len));
}

std::vector<uint8_t> FrameBridge::udp_frame(const Mac& dst_mac, const Mac& src_mac,
                                            const Ipv4SocketAddress& src,
                                            const Ipv4SocketAddress& dst,
                                            const std::vector<uint8_t>& payload, uint16_t ip_id) {
  const size_t udp_len = 8 + payload.size();
  std::vector<uint8_t> f(kEthHeader + 20 + udp_len);
  std::memcpy(f.data(), dst_mac.data(), 6);
  std::memcpy(f.data() + 6, src_mac.data(), 6);
  put16(f.data() + 12, kEtherIpv4);
  uint8_t* ip = f.data() + kEthHeader;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(20 + udp_len));
  put16(ip + 4, ip_id);
  ip[8] = 64;  // TTL
  ip[9] = 17;  // UDP
  put32(ip + 12, src.ip);
  put32(ip + 16, dst.ip);
  put16(ip + 10, checksum(ip, 20));
  uint8_t* udp = ip + 20;
  put16(udp, src.port);
  put16(udp + 2, dst.port);
  put16(udp + 4, static_cast<uint16_t>(udp_len));
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  // Pseudo-header: addresses, protocol, UDP length.
  uint32_t pseudo = (src.ip >> 16) + (src.ip & 0xFFFF) + (dst.ip >> 16) + (dst.ip & 0xFFFF) + 17 +
                    static_cast<uint32_t>(udp_len);
  uint16_t sum = checksum(udp, udp_len, pseudo);
  put16(udp + 6, sum == 0 ? 0xFFFF : sum);
  return f;
}

bool FrameBridge::send_to_device(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                                 const std::vector<uint8_t>& payload) {
  if (kEthHeader + 28 + payload.size() > kMaxFrame) {
    ++counters_.send_failed;  // would need IP fragmentation; CoAP here never does
    return false;
  }
  return send_frame(udp_frame(device_mac_, options_.gateway_mac, src, dst, payload, ip_id_++));
}

bool FrameBridge::send_frame(const std::vector<uint8_t>& frame) {
  for (;;) {
    ssize_t n = ::send(fd_, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(frame.size())) {
      ++counters_.frames_out;
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    ++counters_.send_failed;
    return false;
  }
}

}  // namespace hil::qemu
