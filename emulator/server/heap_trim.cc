#include "emulator/server/heap_trim.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hil::server {

HeapTrim::HeapTrim(Timers& timers, size_t threshold, TimeMs delay_ms)
    : timers_(timers), threshold_(threshold), delay_ms_(delay_ms) {}

HeapTrim::~HeapTrim() { timers_.cancel(timer_); }

void HeapTrim::released(size_t entries) {
  pending_ += entries;
  if (timer_ != 0 || pending_ < threshold_) return;
  timer_ = timers_.at(timers_.clock().now_ms() + delay_ms_, [this] {
    timer_ = 0;
    trim();
  });
}

void HeapTrim::trim() {
  pending_ = 0;
#if defined(__GLIBC__)
  // Other allocators give memory back by themselves, or cannot.
  malloc_trim(0);
#endif
}

}  // namespace hil::server
