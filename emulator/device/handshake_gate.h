// Bounds the DTLS handshakes that the devices of one loop run at once. A
// fleet that powers up together would otherwise send thousands of
// ClientHellos in one burst; a server takes a bounded number at a time
// (libcoap: max_handshake_sessions) and drops the rest, which then cost a
// retransmission timeout each. Real fleets spread too: devices wake over
// minutes, not in one millisecond.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace hil::device {

class HandshakeGate {
 public:
  explicit HandshakeGate(size_t limit) : limit_(limit < 1 ? 1 : limit) {}

  // Runs `start` at once if a slot is free, else when one frees. The
  // returned ticket cancels a start that has not run yet.
  uint64_t enter(std::function<void()> start);
  void cancel(uint64_t ticket);
  // A handshake that entered is over: connected, failed or abandoned.
  void leave();
  size_t active() const { return active_; }
  size_t waiting() const { return waiting_.size(); }

 private:
  struct Waiting {
    uint64_t ticket;
    std::function<void()> start;
  };
  size_t limit_;
  size_t active_ = 0;
  uint64_t next_ticket_ = 1;
  std::deque<Waiting> waiting_;
};

}  // namespace hil::device
