// One event loop: libcoap contexts, timers, and work posted from other
// threads. Everything a loop owns is touched only by the thread running it.
//
// In real time the loop has a thread of its own that waits in epoll. In
// virtual time it has none: whoever calls call() or run_until() runs its
// work, one caller at a time, on the virtual clock; nothing ever waits.
// run_until() settles each instant (posted work, due timers, readable
// sockets, libcoap contexts, each in a fixed order, until nothing moves),
// then jumps the clock to the next deadline: a timer, or a retransmission
// or session timeout libcoap reported.
#pragma once

#include <sys/epoll.h>
#include <time.h>

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
#include "emulator/base/switchboard.h"
#include "emulator/coap/context.h"
#include "emulator/coap/virtual_time.h"

namespace hil::runtime {

class Loop final : public Reactor {
 public:
  // Real time: start() runs the loop on a thread of its own.
  explicit Loop(const Clock& clock);
  // Virtual time on `clock`; libcoap's random numbers come from `seed`.
  Loop(VirtualClock& clock, uint64_t seed);
  ~Loop() override;  // stops and joins the thread
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void start();
  void stop();

  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread (virtual time: on this one, as the loop's
  // only driver for the while) and returns its result.
  template <typename F>
  auto call(F&& fn) -> decltype(fn()) {
    if (virtual_clock_ != nullptr) {
      Driver driver(*this);
      return fn();
    }
    if (on_loop_thread()) return fn();
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto result = task.get_future();
    post([&task] { task(); });
    return result.get();
  }
  // Like call(), without waiting for the result: the future holds it. On
  // the virtual clock, or on the loop's own thread, `fn` has run already.
  template <typename F>
  auto submit(F&& fn) -> std::future<decltype(fn())> {
    auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::forward<F>(fn));
    auto result = task->get_future();
    if (virtual_clock_ != nullptr || on_loop_thread()) {
      call([&task] { (*task)(); });
    } else {
      post([task] { (*task)(); });
    }
    return result;
  }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  // CPU time the loop's thread has used (real time; 0 on the virtual clock,
  // whose work runs on its callers' threads).
  double cpu_seconds() const;
  bool is_virtual() const { return virtual_clock_ != nullptr; }

  // Virtual time only: runs everything due up to `until` (inclusive),
  // jumping the clock from deadline to deadline, and leaves the clock at
  // `until`. Returns true early, the clock at that instant, once `stop`
  // (if any) holds after an instant has settled.
  bool run_until(TimeMs until, const std::function<bool()>& stop);

  // Loop thread only.
  void add(coap::Context& ctx);
  void remove(coap::Context& ctx);
  // Calls `on_readable` whenever `fd` is readable (level-triggered).
  void watch(int fd, std::function<void()> on_readable) override;
  void unwatch(int fd) override;
  Id at(TimeMs when, std::function<void()> fn) override;
  void cancel(Id id) override;
  const Clock& clock() const override { return clock_; }
  // The radio and the servers of this loop hand each other datagrams here
  // (base/switchboard.h); loop thread only.
  Switchboard& switchboard() { return switchboard_; }

 private:
  // The one caller running a virtual-time loop: holds the loop and points
  // libcoap on this thread at its clock and generator.
  class Driver {
   public:
    explicit Driver(Loop& loop)
        : lock_(loop.driver_mu_), scope_(*loop.virtual_clock_, loop.prng_state_) {}

   private:
    std::unique_lock<std::recursive_mutex> lock_;
    coap::VirtualTimeScope scope_;
  };
  struct Watch {
    std::function<void()> on_readable;
    bool live = true;  // false once unwatched: an event already taken is skipped
  };

  void run();
  std::vector<std::function<void()>> take_posted();
  void run_posted();
  int run_due_timers(bool* ran = nullptr);  // returns ms until the next timer, or -1
  void settle();
  TimeMs next_deadline();

  const Clock& clock_;
  VirtualClock* virtual_clock_ = nullptr;
  uint64_t prng_state_ = 0;
  std::recursive_mutex driver_mu_;
  int epoll_fd_;
  int wake_fd_;
  std::thread thread_;
  clockid_t cpu_clock_{};  // the thread's, once started
  bool has_cpu_clock_ = false;
  std::atomic<bool> running_{false};

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;

  using Entry = std::pair<TimeMs, Id>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> timer_queue_;
  std::unordered_map<Id, std::function<void()>> timers_;
  // By descriptor; epoll's data.ptr points at the Watch.
  std::unordered_map<int, std::unique_ptr<Watch>> watched_;
  std::vector<std::unique_ptr<Watch>> unwatched_;  // freed after the batch of events
  // Virtual time: descriptors and contexts in the order they came, the
  // order they are served in.
  std::vector<int> watch_order_;
  std::vector<coap::Context*> contexts_;
  Switchboard switchboard_;
  // settle()'s poll: what epoll_wait() found readable, sorted by descriptor.
  std::vector<epoll_event> events_;
  std::vector<int> ready_;
  Id next_timer_ = 1;
};

}  // namespace hil::runtime
