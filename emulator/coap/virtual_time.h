// Virtual time and seeded randomness for libcoap, and for mbedTLS through it.
//
// libcoap reads the wall clock (clock_gettime, in coap_clock_init and
// coap_ticks), arms a timerfd in real time, and draws message ids and
// retransmission jitter from getrandom(). Its mbedTLS backend hands mbedTLS's
// own timer functions (which read gettimeofday) to the DTLS layer and seeds
// its DRBG from mbedtls_entropy_func. Every target that links libcoap through
// hil_coap is linked with -Wl,--wrap=<each of these> (CMakeLists.txt here):
// the wrappers in virtual_time.cc answer from a virtual clock and a seeded
// generator on a thread inside a VirtualTimeScope, and call the real
// functions on every other thread. So a real-time and a virtual-time
// emulator can share a process: what libcoap sees depends on the thread that
// calls it, not on a process-wide switch.
#pragma once

#include <cstdint>

#include "emulator/base/clock.h"

namespace hil::coap {

// libcoap's tick at virtual time 0: 1 s, since tick 0 means "unset" in
// places. Ticks are milliseconds, so libcoap's tick = this + the clock's ms.
constexpr TimeMs kVirtualTickOrigin = 1000;

// While it lives, libcoap on this thread reads `clock`, leaves its timerfd
// disarmed (the caller walks the contexts at their deadlines), and draws
// random bytes from `rng`, a splitmix64 state that every draw advances.
// Scopes nest; the innermost one wins.
class VirtualTimeScope {
 public:
  VirtualTimeScope(const Clock& clock, uint64_t& rng);
  ~VirtualTimeScope();
  VirtualTimeScope(const VirtualTimeScope&) = delete;
  VirtualTimeScope& operator=(const VirtualTimeScope&) = delete;

 private:
  const Clock* prev_clock_;
  uint64_t* prev_rng_;
};

// True on a thread inside a VirtualTimeScope.
bool virtual_time_active();

// How many datagrams this thread has sent inside a VirtualTimeScope (send,
// sendto, sendmsg, sendmmsg, from any object linked through hil_coap). On
// loopback a datagram is in its receiver's queue when the call returns, so
// a virtual-time loop whose descriptors were all empty needs to look again
// only after this count moved.
uint64_t virtual_sends();

// The scope's generator as it is now; rewind() takes it back there, so that
// an attempt the kernel's random choices made fail (and that is retried)
// draws nothing. Does nothing outside a scope.
class RandomCheckpoint {
 public:
  RandomCheckpoint();
  void rewind();

 private:
  uint64_t* rng_;
  uint64_t saved_ = 0;
};

// Called once by init_library() right after coap_startup(): learns the
// wall-clock second libcoap counts its ticks from, and installs the
// generator (coap_set_prng) that answers from the scope's seed.
void install_virtual_time_hooks();

}  // namespace hil::coap
