#include "emulator/runtime/loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hil::runtime {

Loop::Loop(const Clock& clock)
    : clock_(clock),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (epoll_fd_ < 0 || wake_fd_ < 0)
    throw std::runtime_error("cannot create an event loop: out of file descriptors?");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

Loop::Loop(VirtualClock& clock, uint64_t seed) : Loop(static_cast<const Clock&>(clock)) {
  virtual_clock_ = &clock;
  prng_state_ = seed;
}

Loop::~Loop() {
  stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void Loop::start() {
  if (virtual_clock_ != nullptr) return;  // driven by its callers
  running_ = true;
  thread_ = std::thread([this] { run(); });
  has_cpu_clock_ = pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_) == 0;
}

double Loop::cpu_seconds() const {
  timespec t{};
  if (!has_cpu_clock_ || clock_gettime(cpu_clock_, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

void Loop::stop() {
  if (virtual_clock_ != nullptr) {
    take_posted();  // never driven again: what it owned is gone by now
    return;
  }
  if (!thread_.joinable()) return;
  post([this] { running_ = false; });
  thread_.join();
}

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  if (virtual_clock_ != nullptr) return;  // runs when the loop is next driven
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;  // a full counter still wakes the loop
}

// On the virtual clock, a context's descriptor joins the loop's epoll set
// only for settle() to ask which are readable: a poll() over every context
// would cost each instant a step per context.
void Loop::add(coap::Context& ctx) {
  if (virtual_clock_ != nullptr) {
    contexts_.push_back(&ctx);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = ctx.fd();
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ctx.fd(), &ev);
    return;
  }
  watch(ctx.fd(), [&ctx] { ctx.process(); });
}

void Loop::remove(coap::Context& ctx) {
  if (virtual_clock_ != nullptr) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, ctx.fd(), nullptr);
    contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), &ctx), contexts_.end());
    return;
  }
  unwatch(ctx.fd());
}

void Loop::watch(int fd, std::function<void()> on_readable) {
  unwatch(fd);
  auto& slot = watched_[fd];
  slot = std::make_unique<Watch>(Watch{std::move(on_readable)});
  watch_order_.push_back(fd);
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (virtual_clock_ != nullptr) {
    ev.data.fd = fd;  // settle() looks it up
  } else {
    ev.data.ptr = slot.get();
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Loop::unwatch(int fd) {
  auto it = watched_.find(fd);
  if (it == watched_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // An event for it may be in the batch run() is handling right now.
  it->second->live = false;
  unwatched_.push_back(std::move(it->second));
  watched_.erase(it);
  watch_order_.erase(std::remove(watch_order_.begin(), watch_order_.end(), fd), watch_order_.end());
}

Timers::Id Loop::at(TimeMs when, std::function<void()> fn) {
  Id id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  timer_queue_.emplace(when, id);
  return id;
}

void Loop::cancel(Id id) { timers_.erase(id); }

int Loop::run_due_timers(bool* ran) {
  while (!timer_queue_.empty()) {
    auto [when, id] = timer_queue_.top();
    auto it = timers_.find(id);
    if (it == timers_.end()) {  // cancelled
      timer_queue_.pop();
      continue;
    }
    TimeMs now = clock_.now_ms();
    if (when > now) return static_cast<int>(when - now);
    timer_queue_.pop();
    auto fn = std::move(it->second);
    timers_.erase(it);
    if (ran != nullptr) *ran = true;
    fn();
  }
  return -1;
}

std::vector<std::function<void()>> Loop::take_posted() {
  std::vector<std::function<void()>> work;
  std::lock_guard<std::mutex> lock(posted_mu_);
  work.swap(posted_);
  return work;
}

void Loop::run_posted() {
  if (virtual_clock_ == nullptr) {
    uint64_t count;
    ssize_t n = read(wake_fd_, &count, sizeof(count));
    (void)n;
  }
  for (auto& fn : take_posted()) fn();
}

void Loop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (running_) {
    int timeout = run_due_timers();
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        run_posted();
      } else if (auto* w = static_cast<Watch*>(events[i].data.ptr); w->live) {
        w->on_readable();
      }
    }
    unwatched_.clear();
  }
  run_posted();  // work posted while stopping, e.g. destructors' clean-up
}

// --- virtual time -----------------------------------------------------------

bool Loop::run_until(TimeMs until, const std::function<bool()>& stop) {
  if (virtual_clock_ == nullptr) throw std::logic_error("run_until: this loop runs in real time");
  Driver driver(*this);
  while (true) {
    settle();
    if (stop && stop()) return true;
    TimeMs next = next_deadline();
    if (next < 0 || next > until) {
      virtual_clock_->advance_to(until);
      return false;
    }
    virtual_clock_->advance_to(next);
  }
}

// Everything that can happen at this instant, in a fixed order, round after
// round until a round finds nothing to do; then the contexts that changed
// learn their next deadline (a walk of all their sessions), and if that
// moved anything, round again. Datagrams on loopback are in the receiver's
// queue when sendto() returns (the kernel delivers them in the sender's
// call), so a round that finds no socket readable means none is in flight,
// and until something is sent (coap::virtual_sends()) none will be: the
// rounds after that skip the poll. The first round polls for datagrams
// sent from outside the loop since it last ran.
void Loop::settle() {
  constexpr long kMaxRounds = 1000000;
  const coap_tick_t now = coap::Context::ticks();  // the instant does not move
  bool refresh = false;  // the contexts' deadlines, once nothing else moves
  bool any = false;      // the last poll found a descriptor readable
  uint64_t sends = 0;    // coap::virtual_sends() at the last poll
  for (long round = 0; round < kMaxRounds; ++round) {
    bool did = false;
    for (auto& fn : take_posted()) {
      fn();
      did = true;
    }
    run_due_timers(&did);
    // One poll for every descriptor; then each in its fixed place.
    size_t watched = watch_order_.size(), contexts = contexts_.size();
    if (round == 0 || any || coap::virtual_sends() != sends) {
      events_.resize(watched + contexts + 1);  // room for all: one call sees every one
      sends = coap::virtual_sends();
      int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), 0);
      ready_.clear();
      for (int i = 0; i < n; ++i) ready_.push_back(events_[i].data.fd);
      std::sort(ready_.begin(), ready_.end());
      any = !ready_.empty();
    }
    auto readable = [&](int fd) { return std::binary_search(ready_.begin(), ready_.end(), fd); };
    for (size_t i = 0; any && i < watched && i < watch_order_.size(); ++i) {
      int fd = watch_order_[i];
      if (!readable(fd)) continue;
      auto it = watched_.find(fd);
      if (it != watched_.end()) it->second->on_readable();
      did = true;
    }
    for (size_t i = 0; i < contexts && i < contexts_.size(); ++i)
      did |= contexts_[i]->process_virtual(any && readable(contexts_[i]->fd()), refresh, now);
    unwatched_.clear();
    if (!did && refresh) return;
    refresh = !did;
  }
  throw std::runtime_error("virtual time: the work at " + std::to_string(clock_.now_ms()) +
                           " ms never settles (something answers itself without delay)");
}

TimeMs Loop::next_deadline() {
  while (!timer_queue_.empty() && timers_.count(timer_queue_.top().second) == 0)
    timer_queue_.pop();  // cancelled
  TimeMs next = timer_queue_.empty() ? -1 : timer_queue_.top().first;
  TimeMs now = clock_.now_ms();
  const coap_tick_t ticks = coap::Context::ticks();
  for (coap::Context* ctx : contexts_) {
    int64_t due = ctx->due_in_ms(ticks);
    if (due >= 0 && (next < 0 || now + due < next)) next = now + due;
  }
  return next;
}

}  // namespace hil::runtime
