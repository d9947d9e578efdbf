// File descriptors against RLIMIT_NOFILE. A process here may hold at most
// 20,000 and the hard limit cannot be raised: a fleet that does not fit is
// refused before it starts, with a message that says what to do, rather
// than left to fail device by device.
#pragma once

#include <cstddef>
#include <string>

#include "emulator/base/result.h"

namespace hil::runtime {

// What the parts of a fleet hold open, in descriptors.
struct DescriptorCosts {
  // A libcoap context: its epoll and timerfd, and coap::Context's wake-up.
  static constexpr size_t kContext = 3;
  // A device without a radio: a socket per session, one at least (a
  // lingering bootstrap session gives way to the next one when none is
  // left). With a radio its sessions hold none (libcoap patch 0013).
  static constexpr size_t kSocketSessions = 1;
  static constexpr size_t kFlashFile = 1;  // a flash image backed by a file
  // A QEMU device: its UART and Ethernet sockets, a pidfd, its flash file,
  // and the two ends and log file it hands QEMU while starting.
  static constexpr size_t kQemuDevice = 7;
  // Files, captures and libraries the rest of the process opens.
  static constexpr size_t kHeadroom = 64;
};

// Descriptors the process has open now.
size_t open_descriptors();

// Makes room for `more` descriptors on top of those open now (and the
// headroom): raises the soft RLIMIT_NOFILE up to the hard limit if it must.
// Error: kResourceExhausted, not even the hard limit leaves room (kIo if
// the limit cannot be read); the message names `what`
// ("10000 devices") and what to change.
Status reserve_descriptors(size_t more, const std::string& what);

}  // namespace hil::runtime
