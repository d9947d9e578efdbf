// The radio on the host: every datagram between a device's CoAP session and
// a server passes through here, through the device's Link (faults, rules)
// and into the capture. One Radio per event loop, at a cost of a few
// sockets in all, not one per device: the device-facing socket is where
// device sessions connect (127.0.0.1:D); server-facing sockets are bound to
// the wildcard address and send with IP_PKTINFO from each device's own
// 127.1.x.y, so a server sees one distinct address per device. Several
// server-facing sockets give NAT rebinding a port to move to.
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

// Virtual time: a capture's clock starts at this wall-clock instant
// (2020-01-01T00:00:00Z), and the radio's server-facing ports show as
// kVirtualNatPort + their index, so that a seed gives the same bytes.
constexpr int64_t kVirtualEpochUs = 1577836800LL * 1000000;
constexpr uint16_t kVirtualNatPort = 50000;

// A pcapng file shared by the radios of all loops.
class Capture {
 public:
  static Result<std::shared_ptr<Capture>> open(const std::string& path, const Clock& clock);
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
  std::shared_ptr<Capture> capture;  // the device's own, if any
};

class Radio {
 public:
  // With a `port_seed`, the server-facing ports are drawn from it: servers
  // see the same device ports run after run, and DTLS cookies, keyed on
  // them, repeat (virtual time). Without, any free ports.
  static Result<std::unique_ptr<Radio>> open(Reactor& reactor, int nat_ports = 4,
                                             uint64_t port_seed = 0);
  ~Radio();

  // Where device sessions connect instead of their server.
  const coap_address_t& device_facing() const { return device_facing_; }
  // `session` is a device session's local address (127.1.x.y:port).
  void attach(const coap_address_t& session, const coap_address_t& server, Route route);
  void detach(const coap_address_t& session);
  // A device end that is not a local socket (a firmware image under QEMU,
  // emulator/qemu/qemu_device.h). `session` names the path: the device's
  // own 127.1.x.y and a port of its choosing, unique among its paths. The
  // device hands its datagrams to uplink(); what the radio delivers back
  // goes to `deliver` instead of a socket. detach() as for sessions.
  using Deliver = std::function<void(const std::vector<uint8_t>&)>;
  void attach(const coap_address_t& session, const coap_address_t& server, Route route,
              Deliver deliver);
  // Through the path's link, into the capture and to its server, as a
  // datagram a session sent to device_facing(). False: no such path.
  bool uplink(const coap_address_t& session, const uint8_t* data, size_t len);
  // The whole run's capture; null stops it.
  void set_capture(std::shared_ptr<Capture> capture) { run_capture_ = std::move(capture); }

 private:
  struct Path;  // one attached session
  explicit Radio(Reactor& reactor);
  void on_uplink();
  void on_downlink(size_t port);
  void forward(Path& p, Direction dir, const uint8_t* data, size_t len);
  void send(Path& p, Direction dir, size_t port, const std::vector<uint8_t>& data);
  void capture(const Path& p, Direction dir, size_t port, const uint8_t* data, size_t len,
               const std::string& comment);

  Reactor& reactor_;
  int device_fd_ = -1;
  coap_address_t device_facing_{};
  std::vector<int> server_fds_;
  std::vector<uint16_t> server_ports_;
  std::unordered_map<std::string, std::unique_ptr<Path>> by_session_;  // "ip:port"
  std::unordered_map<std::string, Path*> by_server_;  // "port|device ip|server ip:port"
  std::shared_ptr<Capture> run_capture_;
  size_t next_port_ = 0;
};

}  // namespace hil::radio
