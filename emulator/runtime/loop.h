// One event-loop thread: libcoap contexts, timers, and work posted from
// other threads. Everything a loop owns is touched only on its thread.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "emulator/base/reactor.h"
#include "emulator/coap/context.h"

namespace hil::runtime {

class Loop final : public Reactor {
 public:
  explicit Loop(const Clock& clock);
  ~Loop() override;  // stops and joins the thread
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void start();
  void stop();

  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread and returns its result.
  template <typename F>
  auto call(F&& fn) -> decltype(fn()) {
    if (on_loop_thread()) return fn();
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto result = task.get_future();
    post([&task] { task(); });
    return result.get();
  }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Loop thread only.
  void add(coap::Context& ctx);
  void remove(coap::Context& ctx);
  // Calls `on_readable` whenever `fd` is readable (level-triggered).
  void watch(int fd, std::function<void()> on_readable) override;
  void unwatch(int fd) override;
  Id at(TimeMs when, std::function<void()> fn) override;
  void cancel(Id id) override;
  const Clock& clock() const override { return clock_; }

 private:
  void run();
  void run_posted();
  bool retired(const void* slot) const;
  int run_due_timers();  // returns ms until the next timer, or -1

  const Clock& clock_;
  int epoll_fd_;
  int wake_fd_;
  std::thread thread_;
  std::atomic<bool> running_{false};

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;

  using Entry = std::pair<TimeMs, Id>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> timer_queue_;
  std::unordered_map<Id, std::function<void()>> timers_;
  // By descriptor; epoll's data.ptr points at the callback. A callback
  // unwatched while a batch of events runs is retired, not freed: a later
  // event of the same batch may still point at it, and must be skipped.
  std::unordered_map<int, std::unique_ptr<std::function<void()>>> watched_;
  std::vector<std::unique_ptr<std::function<void()>>> retired_;
  Id next_timer_ = 1;
};

}  // namespace hil::runtime
