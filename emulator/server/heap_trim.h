// Gives the heap a server freed back to the operating system. glibc keeps
// freed chunks in its arenas (one per thread that allocates), so once a
// flood's sessions, results or registrations have ended, expired or been
// evicted, the process would stay as large as at the flood's peak;
// malloc_trim() returns every free page. A trim walks the whole heap, so
// it runs once per batch of frees, never per entry.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulator/base/timers.h"

namespace hil::server {

class HeapTrim {
 public:
  // Trims `delay_ms` after the entries released since the last trim reach
  // `threshold`: a sweep still in progress costs one trim per `delay_ms`.
  explicit HeapTrim(Timers& timers, size_t threshold = 256, TimeMs delay_ms = 1000);
  ~HeapTrim();
  HeapTrim(const HeapTrim&) = delete;
  HeapTrim& operator=(const HeapTrim&) = delete;

  // `entries` of the server's state were freed.
  void released(size_t entries);

 private:
  void trim();

  Timers& timers_;
  size_t threshold_;
  TimeMs delay_ms_;
  size_t pending_ = 0;
  Timers::Id timer_ = 0;
};

}  // namespace hil::server
