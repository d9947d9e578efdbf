#include "emulator/runtime/loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

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

Loop::~Loop() {
  stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void Loop::start() {
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void Loop::stop() {
  if (!thread_.joinable()) return;
  post([this] { running_ = false; });
  thread_.join();
}

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;  // a full counter still wakes the loop
}

void Loop::add(coap::Context& ctx) {
  watch(ctx.fd(), [&ctx] { ctx.process(); });
}

void Loop::remove(coap::Context& ctx) { unwatch(ctx.fd()); }

void Loop::watch(int fd, std::function<void()> on_readable) {
  auto& slot = watched_[fd];
  slot = std::make_unique<std::function<void()>>(std::move(on_readable));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = slot.get();
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Loop::unwatch(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = watched_.find(fd);
  if (it == watched_.end()) return;
  retired_.push_back(std::move(it->second));
  watched_.erase(it);
}

bool Loop::retired(const void* slot) const {
  for (const auto& r : retired_)
    if (r.get() == slot) return true;
  return false;
}

Timers::Id Loop::at(TimeMs when, std::function<void()> fn) {
  Id id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  timer_queue_.emplace(when, id);
  return id;
}

void Loop::cancel(Id id) { timers_.erase(id); }

int Loop::run_due_timers() {
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
    fn();
  }
  return -1;
}

void Loop::run_posted() {
  uint64_t count;
  ssize_t n = read(wake_fd_, &count, sizeof(count));
  (void)n;
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
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
      } else if (retired_.empty() || !retired(events[i].data.ptr)) {
        (*static_cast<std::function<void()>*>(events[i].data.ptr))();
      }
    }
    retired_.clear();
  }
  run_posted();  // work posted while stopping, e.g. destructors' clean-up
}

}  // namespace hil::runtime
