// The radio on the host: every datagram between a device and a server
// passes through here, through the device's Link (faults, rules) and into
// the capture. One Radio per event loop, at a cost of a few sockets in all,
// not one per device. A device opens a path to each server it talks to,
// a DatagramPort (base/datagram_port.h) that a native device hands to its
// CoAP session and a firmware image's frame bridge uses itself: no socket,
// no kernel hop on the device side. Server-facing sockets are bound to the
// wildcard address and send with IP_PKTINFO from each device's own
// 127.1.x.y (to a server off loopback, from its address in the egress
// prefix: egress.h), so a server sees one distinct address per device;
// several of them give NAT rebinding a port to move to.
//
// The server-facing sockets move datagrams in batches: a readable socket
// is drained with recvmmsg(), and what devices send during one turn of the
// event loop leaves with one sendmmsg() per socket when the turn ends (a
// timer due at once), instead of one system call per datagram. With a
// switchboard (base/switchboard.h), datagrams to a server of this process
// leave at the same moment without a system call at all.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "emulator/base/datagram_batch.h"
#include "emulator/base/datagram_port.h"
#include "emulator/base/event.h"
#include "emulator/base/reactor.h"
#include "emulator/base/switchboard.h"
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
  void write(TimeMs now, const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
             const uint8_t* data, size_t len, const std::string& comment);

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

  // A path from the device at `device_ip` (127.1.x.y, host order) to
  // `server`: what the port sends goes through the device's link, into the
  // capture and to the server; the server's answers reach the port's
  // receiver. A newer path from the same device to the same server takes
  // over from the older one, as the server could not tell them apart
  // either. Destroying the port ends its path (if not taken over);
  // datagrams it delayed are then lost. It must not outlive the radio.
  std::unique_ptr<DatagramPort> open_path(uint32_t device_ip, Ipv4SocketAddress server,
                                          Route route);
  // Paths to servers off loopback send from the device's address in the
  // egress prefix at `base` (host order; egress.h) instead of its 127.1.x.y,
  // which may not leave the host. 0: none. Before any such path is opened.
  void set_egress(uint32_t base) { egress_base_ = base; }
  // Servers attached to `board` (one thread: the virtual clock's) get
  // their datagrams from it instead of a socket, and answer through it;
  // the rest go on sockets. Before any path is opened; `board` outlives
  // the radio.
  void switch_through(Switchboard& board);
  // The whole run's capture; null stops it.
  void set_capture(std::shared_ptr<Capture> capture) { run_capture_ = std::move(capture); }
  // Datagrams a device handed over that never left: its path was gone, or
  // the socket refused them (a full buffer, an address it may not send to).
  uint64_t send_failed() const { return send_failed_; }

  // System calls against datagrams on the server-facing sockets: what
  // batching saves.
  struct Batches {
    uint64_t sent = 0, send_calls = 0;            // datagrams, sendmmsg() calls
    uint64_t received = 0, receive_calls = 0;     // datagrams, recvmmsg() calls
    uint64_t switched_up = 0, switched_down = 0;  // through the switchboard, no call
  };
  const Batches& batches() const { return batches_; }

 private:
  class Port;
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
  // A datagram waiting for the end of the loop's turn, its bytes in
  // Outbox::bytes of the socket it leaves by.
  struct Pending {
    Key key;
    uint64_t serial;  // its path's, to report a failure to the device
    size_t offset, len;
  };
  struct Outbox {
    std::vector<Pending> datagrams;
    std::vector<uint8_t> bytes;
  };
  // Where recvmmsg() writes a batch; allocated at the first read.
  struct Inbox;
  Key key_of(uint32_t device_ip, Ipv4SocketAddress server) const;
  bool uplink(const Key& key, const uint8_t* data, size_t len);
  void set_receiver(const Key& key, uint64_t serial, DatagramPort::Receiver receiver);
  void close_path(const Key& key, uint64_t serial);

  explicit Radio(Reactor& reactor);
  void on_downlink(size_t port);
  void downlink(size_t port, mmsghdr& received, const sockaddr_in& from);
  // A server's datagram for `device_ip` that reached the socket of `port`
  // (addresses in network order).
  void arrive(size_t port, uint32_t device_ip, uint32_t server_ip, uint16_t server_port,
              const uint8_t* data, size_t len);
  void on_switched_down(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                        const uint8_t* data, size_t len);
  void deliver_switched();
  void forward(Path& p, Direction dir, const uint8_t* data, size_t len);
  void send(Path& p, Direction dir, const uint8_t* data, size_t len);
  void capture(const Path& p, Direction dir, const uint8_t* data, size_t len,
               const std::string& comment);
  void flush_uplink();
  void send_batch(size_t port);
  void uplink_failed(const Pending& d, int err);

  Reactor& reactor_;
  std::vector<int> server_fds_;
  std::vector<uint16_t> server_ports_;
  std::unordered_map<Key, std::unique_ptr<Path>, KeyHash> paths_;
  std::shared_ptr<Capture> run_capture_;
  uint32_t egress_base_ = 0;
  size_t next_port_ = 0;
  uint64_t next_serial_ = 1;
  uint64_t send_failed_ = 0;
  std::vector<Outbox> outboxes_;  // one per server-facing socket
  bool flush_due_ = false;
  Timers::Id flush_timer_ = 0;
  std::unique_ptr<Inbox> inbox_;
  Batches batches_;
  Switchboard* board_ = nullptr;
  std::vector<size_t> to_sockets_;  // send_batch()'s datagrams that leave by socket
  // What servers answered through the switchboard, handed on when their
  // turn ends, as a socket's would have been.
  DatagramBatch switched_;
  Timers::Id switched_timer_ = 0;
};

}  // namespace hil::radio
