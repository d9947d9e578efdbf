// The radio on the host: every datagram between a device and a server
// passes through here, through the device's Link (faults, rules) and into
// the capture. One Radio per event loop, at a cost of a few sockets in all,
// not one per device. A device hands its datagrams to uplink() (a native
// device's libcoap sessions do so through coap::Context's datagram hook, a
// firmware image through its frame bridge) and gets the server's answers
// through its path's delivery callback: no socket, no kernel hop on the
// device side. Server-facing sockets are bound to the wildcard address and
// send with IP_PKTINFO from each device's own 127.1.x.y, so a server sees
// one distinct address per device; several of them give NAT rebinding a
// port to move to.
#pragma once

#include <coap3/coap.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/reactor.h"
#include "emulator/radio/link.h"
#include "emulator/radio/pcapng.h"

namespace hil::radio {

// Virtual time: a capture's clock starts at kVirtualEpochS, and the radio's
// server-facing ports show as kVirtualNatPort + their index, so that a seed
// gives the same bytes.
constexpr int64_t kVirtualEpochUs = kVirtualEpochS * 1000000;
constexpr uint16_t kVirtualNatPort = 50000;

// A pcapng file shared by the radios of all loops.
class Capture {
 public:
  // `comment`: the file's section comment (how to decode it). Errors:
  // PcapngWriter::open()'s.
  static Result<std::shared_ptr<Capture>> open(const std::string& path, const Clock& clock,
                                               const std::string& comment = "");
  void write(TimeMs now, const Endpoint4& src, const Endpoint4& dst, const uint8_t* data,
             size_t len, const std::string& comment);

 private:
  Capture(std::unique_ptr<PcapngWriter> w, int64_t epoch_us)
      : writer_(std::move(w)), epoch_us_(epoch_us) {}
  std::mutex mu_;
  std::unique_ptr<PcapngWriter> writer_;
  int64_t epoch_us_;  // the wall-clock time of the clock's origin
};

// What a device's session tells the radio about itself.
struct Route {
  Link* link;                        // the device's link, shared by its sessions
  std::function<void(Event)> event;  // faults that fired, for the timeline
  // The device's own capture (null: none), read at every datagram, so that
  // switching it applies to open paths too.
  const std::shared_ptr<Capture>* capture = nullptr;
};

class Radio {
 public:
  // With a `port_seed`, the server-facing ports are drawn from it: servers
  // see the same device ports run after run, and DTLS cookies, keyed on
  // them, repeat (virtual time). Without, any free ports. Errors: kIo.
  static Result<std::unique_ptr<Radio>> open(Reactor& reactor, int nat_ports = 4,
                                             uint64_t port_seed = 0);
  ~Radio();

  // What the radio delivers to a device: a datagram from the path's server.
  using Deliver = std::function<void(const uint8_t* data, size_t len)>;
  // A path from the device at `device_ip` (127.1.x.y, host order) to
  // `server` (IPv4), before the device sends on it. A newer path from the
  // same device to the same server replaces the older one, as the server
  // could not tell them apart either. Returns the path's serial, for
  // detach().
  uint64_t attach(uint32_t device_ip, const coap_address_t& server, Route route, Deliver deliver);
  // Through the path's link, into the capture and to its server. False: no
  // such path (the datagram is lost, and counted in send_failed()).
  bool uplink(uint32_t device_ip, const coap_address_t& server, const uint8_t* data, size_t len);
  // Ends the path if it is still the one attached with `serial`. Datagrams
  // it delayed are then lost.
  void detach(uint32_t device_ip, const coap_address_t& server, uint64_t serial);
  // The whole run's capture; null stops it.
  void set_capture(std::shared_ptr<Capture> capture) { run_capture_ = std::move(capture); }
  // Datagrams a device handed over that never left: no path, or the
  // socket refused them (a full buffer, an address it may not send to).
  uint64_t send_failed() const { return send_failed_; }

 private:
  struct Path;
  struct Key {
    uint32_t device_ip;  // network order, as sockets give it
    uint32_t server_ip;
    uint16_t server_port;
    bool operator==(const Key& o) const {
      return device_ip == o.device_ip && server_ip == o.server_ip && server_port == o.server_port;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t v = (uint64_t{k.device_ip} << 32 | k.server_ip) * 0x9e3779b97f4a7c15ULL;
      return static_cast<size_t>(v ^ (v >> 29) ^ k.server_port);
    }
  };
  static Key key_of(uint32_t device_ip, const coap_address_t& server);

  explicit Radio(Reactor& reactor);
  void on_downlink(size_t port);
  void forward(Path& p, Direction dir, const uint8_t* data, size_t len);
  void send(Path& p, Direction dir, const uint8_t* data, size_t len);
  void capture(const Path& p, Direction dir, const uint8_t* data, size_t len,
               const std::string& comment);

  Reactor& reactor_;
  std::vector<int> server_fds_;
  std::vector<uint16_t> server_ports_;
  std::unordered_map<Key, std::unique_ptr<Path>, KeyHash> paths_;
  std::shared_ptr<Capture> run_capture_;
  size_t next_port_ = 0;
  uint64_t next_serial_ = 1;
  uint64_t send_failed_ = 0;
};

}  // namespace hil::radio
