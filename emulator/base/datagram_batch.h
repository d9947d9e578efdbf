// Datagrams, each from one address to another, with their bytes in one
// buffer: a batch of any size is two allocations, and clear() keeps them
// for the next. What a loop hands over at the end of its turn (the radio's
// answers from servers, runtime/loop_exchange.h's batches between loops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "emulator/base/ipv4.h"

namespace hil {

class DatagramBatch {
 public:
  void add(const Ipv4SocketAddress& from, const Ipv4SocketAddress& to, const uint8_t* data,
           size_t len) {
    entries_.push_back(Entry{from, to, bytes_.size(), len});
    bytes_.insert(bytes_.end(), data, data + len);
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() {
    entries_.clear();
    bytes_.clear();
  }
  // fn(from, to, data, len) for each datagram, in the order added.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Entry& e : entries_) fn(e.from, e.to, bytes_.data() + e.offset, e.len);
  }

 private:
  struct Entry {
    Ipv4SocketAddress from, to;
    size_t offset, len;  // in bytes_
  };
  std::vector<Entry> entries_;
  std::vector<uint8_t> bytes_;
};

}  // namespace hil
