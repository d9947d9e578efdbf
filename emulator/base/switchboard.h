// Datagrams between the radio and the embedded servers of one process,
// handed over in memory. On the virtual clock they all run on one thread,
// and a datagram through the kernel costs a send, a poll and a read on each
// side: most of a lossy fleet's time. The sockets stay: a server still
// listens for peers outside the process (QEMU, a raw peer, another host),
// and the radio still captures every datagram it carries.
//
// One thread only: whoever attaches and sends does so on the thread that
// runs the board. What it does not hold it hands to its Beyond, if any: the
// boards of other threads (runtime/loop_exchange.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

#include "emulator/base/ipv4.h"

namespace hil {

class Switchboard {
 public:
  using Receiver = std::function<void(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                                      const uint8_t* data, size_t len)>;

  // Where a board sends what none of its receivers takes, and hears of
  // what is attached to it (called on the board's thread).
  class Beyond {
   public:
    virtual ~Beyond() = default;
    virtual void attached(const Ipv4SocketAddress& at) = 0;
    virtual void detached(const Ipv4SocketAddress& at) = 0;
    // As send(); the datagram is copied if taken.
    virtual bool send(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                      const uint8_t* data, size_t len) = 0;
  };

  // The entry of `map` (keyed by address) that takes what is sent to `to`:
  // its own, or on loopback its port's wildcard one (see attach()).
  template <class Map>
  static auto find_listener(Map& map, const Ipv4SocketAddress& to) {
    auto it = map.find(to);
    if (it == map.end() && to.ip >> 24 == 127) it = map.find({0, to.port});
    return it;
  }

  // Before anything is attached; `beyond` outlives the board's receivers.
  void set_beyond(Beyond* beyond) { beyond_ = beyond; }

  // What is sent to `at` reaches `receiver` until detach(`at`). An address
  // with ip 0 (a socket bound to the wildcard address) takes what is sent
  // to its port on any loopback address.
  void attach(const Ipv4SocketAddress& at, Receiver receiver) {
    receivers_[at] = std::move(receiver);
    if (beyond_ != nullptr) beyond_->attached(at);
  }
  void detach(const Ipv4SocketAddress& at) {
    if (receivers_.erase(at) != 0 && beyond_ != nullptr) beyond_->detached(at);
  }

  // False: nothing attached here (or beyond) listens at `to`, and the
  // caller sends on its socket.
  bool send(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to, const uint8_t* data,
            size_t len) const {
    auto it = find_listener(receivers_, to);
    if (it == receivers_.end()) return beyond_ != nullptr && beyond_->send(from, to, data, len);
    it->second(from, to, data, len);
    return true;
  }

 private:
  std::map<Ipv4SocketAddress, Receiver> receivers_;
  Beyond* beyond_ = nullptr;
};

}  // namespace hil
