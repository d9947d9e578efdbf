// The emulator's side of a firmware's Ethernet: one frame per datagram on
// the socket QEMU's "-netdev dgram" uses. It plays the gateway (and answers
// ARP for every address but the firmware's own, so servers on the
// firmware's subnet work too), unwraps IPv4/UDP frames from the firmware
// into (source, destination, payload) and wraps payloads going back into
// frames. Everything else the firmware sends (ICMP, IPv6, fragments) is
// counted and dropped. Sans policy: what happens to a datagram (radio
// link, capture, a socket) is the caller's.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "emulator/base/ipv4.h"

namespace hil::qemu {

using Mac = std::array<uint8_t, 6>;

struct BridgeOptions {
  uint32_t gateway = ipv4(10, 0, 2, 2);
  Mac gateway_mac{0x02, 0x48, 0x49, 0x4c, 0x00, 0x02};  // locally administered
};

struct BridgeCounters {
  uint64_t frames_in = 0;     // from the firmware
  uint64_t frames_out = 0;    // to the firmware
  uint64_t datagrams_in = 0;  // UDP from the firmware, handed to on_datagram
  uint64_t arp_replies = 0;
  uint64_t ignored = 0;      // not ARP or IPv4/UDP, fragments, bad checksums
  uint64_t send_failed = 0;  // the socket was full or gone
};

class FrameBridge {
 public:
  // src is the firmware's address, dst where it sent the datagram.
  using OnDatagram = std::function<void(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                                        std::vector<uint8_t> payload)>;

  // `fd`: the host's end of the Ethernet socketpair (QemuProcess::eth_fd()),
  // non-blocking; not owned.
  FrameBridge(int fd, OnDatagram on_datagram, BridgeOptions options = {});

  int fd() const { return fd_; }
  // Call when fd() is readable (or whenever): reads every waiting frame.
  void on_readable();
  // Sends `payload` to the firmware as a UDP datagram from `src` to `dst`.
  // False when the frame cannot be sent (socket full: the datagram is lost).
  bool send_to_device(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                      const std::vector<uint8_t>& payload);

  // The firmware's addresses as learned from its frames (0 until then).
  uint32_t device_ip() const { return device_ip_; }
  const Mac& device_mac() const { return device_mac_; }
  const BridgeCounters& counters() const { return counters_; }

  // Frame codecs, exposed for tests.
  static std::vector<uint8_t> udp_frame(const Mac& dst_mac, const Mac& src_mac,
                                        const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                                        const std::vector<uint8_t>& payload, uint16_t ip_id);
  static uint16_t checksum(const uint8_t* data, size_t len, uint32_t initial = 0);

 private:
  void handle_frame(const uint8_t* f, size_t len);
  void handle_arp(const uint8_t* f, size_t len);
  void handle_ipv4(const uint8_t* f, size_t len);
  bool send_frame(const std::vector<uint8_t>& frame);

  int fd_;
  OnDatagram on_datagram_;
  BridgeOptions options_;
  uint32_t device_ip_ = 0;
  Mac device_mac_{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // QEMU's default
  uint16_t ip_id_ = 1;
  BridgeCounters counters_;
};

}  // namespace hil::qemu
