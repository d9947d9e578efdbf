#include "emulator/device/handshake_gate.h"

#include <algorithm>

namespace hil::device {

uint64_t HandshakeGate::enter(std::function<void()> start) {
  uint64_t ticket = next_ticket_++;
  if (active_ < limit_) {
    ++active_;
    start();
  } else {
    waiting_.push_back({ticket, std::move(start)});
  }
  return ticket;
}

void HandshakeGate::cancel(uint64_t ticket) {
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                [ticket](const Waiting& w) { return w.ticket == ticket; }),
                 waiting_.end());
}

void HandshakeGate::leave() {
  if (active_ > 0) --active_;
  // The slot passes straight to the next in line; a start may itself
  // leave at once (a session that cannot open), so loop.
  while (active_ < limit_ && !waiting_.empty()) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    ++active_;
    w.start();
  }
}

}  // namespace hil::device
