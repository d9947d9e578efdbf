#include "emulator/coap/virtual_time.h"

#include <coap3/coap.h>
#include <mbedtls/timing.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

#include <atomic>
#include <cstring>

namespace hil::coap {
namespace {

thread_local const Clock* t_clock = nullptr;
thread_local uint64_t* t_rng = nullptr;
thread_local uint64_t t_sends = 0;  // virtual_sends()

// The wall-clock second libcoap's tick 0 stands for (coap_clock_init() took
// it at coap_startup()); -1 until known, and until then every read is real.
std::atomic<int64_t> g_epoch_s{-1};

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void fill(uint64_t& state, void* out, size_t len) {
  auto* p = static_cast<unsigned char*>(out);
  while (len > 0) {
    uint64_t r = splitmix(state);
    size_t n = len < sizeof(r) ? len : sizeof(r);
    std::memcpy(p, &r, n);
    p += n;
    len -= n;
  }
}

// Outside a scope: a splitmix64 state per thread, seeded once from
// getrandom(). libcoap draws for every session and every CON (message ids,
// tokens, retransmission jitter): a system call each was 1.5 % of a DTLS
// fleet's time. Nothing secret comes from here: mbedTLS seeds its own DRBG
// (patch 0008).
bool seed_real_rng(uint64_t& state) {
  auto* p = reinterpret_cast<unsigned char*>(&state);
  size_t len = sizeof(state);
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// A forked child reseeds (install_virtual_time_hooks): it would otherwise
// draw what its parent draws.
thread_local uint64_t t_real_rng = 0;
thread_local bool t_real_rng_seeded = false;

// libcoap's generator: seeded inside a scope, from the OS once per thread
// elsewhere.
int prng(void* out, size_t len) {
  if (t_rng != nullptr) {
    fill(*t_rng, out, len);
    return 1;
  }
  if (!t_real_rng_seeded && !(t_real_rng_seeded = seed_real_rng(t_real_rng))) return 0;
  fill(t_real_rng, out, len);
  return 1;
}

// mbedtls_timing_delay_context keeps its start in an opaque timer buffer;
// the virtual version keeps the clock's ms there.
TimeMs delay_start(const mbedtls_timing_delay_context& ctx) {
  TimeMs start;
  std::memcpy(&start, ctx.timer.opaque, sizeof(start));
  return start;
}

}  // namespace

VirtualTimeScope::VirtualTimeScope(const Clock& clock, uint64_t& rng)
    : prev_clock_(t_clock), prev_rng_(t_rng) {
  t_clock = &clock;
  t_rng = &rng;
}

VirtualTimeScope::~VirtualTimeScope() {
  t_clock = prev_clock_;
  t_rng = prev_rng_;
}

bool virtual_time_active() { return t_clock != nullptr; }

uint64_t virtual_sends() { return t_sends; }

RandomCheckpoint::RandomCheckpoint() : rng_(t_rng) {
  if (rng_ != nullptr) saved_ = *rng_;
}

void RandomCheckpoint::rewind() {
  if (rng_ != nullptr) *rng_ = saved_;
}

void install_virtual_time_hooks() {
  g_epoch_s.store(static_cast<int64_t>(coap_ticks_to_rt(0)));
  coap_set_prng(prng);
  pthread_atfork(nullptr, nullptr, [] { t_real_rng_seeded = false; });
}

}  // namespace hil::coap

// The link-time wrappers (-Wl,--wrap=NAME makes every reference to NAME in
// the linked objects, libcoap's included, call __wrap_NAME; __real_NAME is
// the original).
extern "C" {

int __real_clock_gettime(clockid_t id, struct timespec* ts);
int __real_timerfd_settime(int fd, int flags, const struct itimerspec* value,
                           struct itimerspec* old);
int __real_mbedtls_entropy_func(void* data, unsigned char* output, size_t len);
void __real_mbedtls_timing_set_delay(void* data, uint32_t int_ms, uint32_t fin_ms);
int __real_mbedtls_timing_get_delay(void* data);
time_t __real_time(time_t* out);
ssize_t __real_send(int fd, const void* buf, size_t len, int flags);
ssize_t __real_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                      socklen_t to_len);
ssize_t __real_sendmsg(int fd, const msghdr* msg, int flags);
int __real_sendmmsg(int fd, mmsghdr* msgs, unsigned int count, int flags);

int __wrap_clock_gettime(clockid_t id, struct timespec* ts) {
  using namespace hil::coap;
  int64_t epoch = g_epoch_s.load(std::memory_order_relaxed);
  if (t_clock == nullptr || epoch < 0) return __real_clock_gettime(id, ts);
  hil::TimeMs ms = kVirtualTickOrigin + t_clock->now_ms();
  ts->tv_sec = static_cast<time_t>(epoch + ms / 1000);
  ts->tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
  return 0;
}

// mbedTLS (built statically: scripts/lib.sh) writes the time into its
// hellos (gmt_unix_time) and cookies. Virtual time counts from the fixed
// kVirtualEpochS, not from the second this process started: two processes
// that run the same seed write the same bytes.
time_t __wrap_time(time_t* out) {
  using namespace hil::coap;
  if (t_clock == nullptr) return __real_time(out);
  auto now = static_cast<time_t>(hil::kVirtualEpochS + t_clock->now_ms() / 1000);
  if (out != nullptr) *out = now;
  return now;
}

// libcoap arms its timerfd with real durations; a virtual-time loop never
// waits on it, and a timer firing at a real instant would only wake it for
// nothing. It is created disarmed and stays so: inside a scope the call is
// not made at all (one system call per walk of a context).
int __wrap_timerfd_settime(int fd, int flags, const struct itimerspec* value,
                           struct itimerspec* old) {
  if (hil::coap::t_clock == nullptr) return __real_timerfd_settime(fd, flags, value, old);
  if (old != nullptr) *old = itimerspec{};
  return 0;
}

// Counted for virtual_sends().
ssize_t __wrap_send(int fd, const void* buf, size_t len, int flags) {
  if (hil::coap::t_clock != nullptr) ++hil::coap::t_sends;
  return __real_send(fd, buf, len, flags);
}

ssize_t __wrap_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                      socklen_t to_len) {
  if (hil::coap::t_clock != nullptr) ++hil::coap::t_sends;
  return __real_sendto(fd, buf, len, flags, to, to_len);
}

ssize_t __wrap_sendmsg(int fd, const msghdr* msg, int flags) {
  if (hil::coap::t_clock != nullptr) ++hil::coap::t_sends;
  return __real_sendmsg(fd, msg, flags);
}

int __wrap_sendmmsg(int fd, mmsghdr* msgs, unsigned int count, int flags) {
  if (hil::coap::t_clock != nullptr) ++hil::coap::t_sends;
  return __real_sendmmsg(fd, msgs, count, flags);
}

int __wrap_mbedtls_entropy_func(void* data, unsigned char* output, size_t len) {
  using namespace hil::coap;
  if (t_rng == nullptr) return __real_mbedtls_entropy_func(data, output, len);
  fill(*t_rng, output, len);
  return 0;
}

// mbedTLS's DTLS retransmission timer (mbedtls_ssl_set_timer_cb), as
// mbedTLS's timing.c defines it, on the virtual clock.
void __wrap_mbedtls_timing_set_delay(void* data, uint32_t int_ms, uint32_t fin_ms) {
  using namespace hil::coap;
  if (t_clock == nullptr) return __real_mbedtls_timing_set_delay(data, int_ms, fin_ms);
  auto* ctx = static_cast<mbedtls_timing_delay_context*>(data);
  ctx->int_ms = int_ms;
  ctx->fin_ms = fin_ms;
  hil::TimeMs start = t_clock->now_ms();
  std::memcpy(ctx->timer.opaque, &start, sizeof(start));
}

int __wrap_mbedtls_timing_get_delay(void* data) {
  using namespace hil::coap;
  if (t_clock == nullptr) return __real_mbedtls_timing_get_delay(data);
  const auto* ctx = static_cast<const mbedtls_timing_delay_context*>(data);
  if (ctx->fin_ms == 0) return -1;  // cancelled
  hil::TimeMs elapsed = t_clock->now_ms() - delay_start(*ctx);
  if (elapsed >= ctx->fin_ms) return 2;
  if (elapsed >= ctx->int_ms) return 1;
  return 0;
}

}  // extern "C"
