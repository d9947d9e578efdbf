// The switchboards of a runtime's loops, joined (base/switchboard.h): a
// datagram for a server or a radio on another loop's thread waits in the
// sending loop's batch for that loop until the sending loop's turn ends or
// the batch holds 256 datagrams, then crosses with the batch in one post()
// (a lock and a wake-up), not in a send and a read of its own.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "emulator/base/switchboard.h"
#include "emulator/runtime/loop.h"

namespace hil::runtime {

class LoopExchange {
 public:
  // Joins the boards of `loops`, which outlive the exchange's use (the
  // runtime stops them before it goes). Each board is joined on its loop.
  explicit LoopExchange(const std::vector<std::unique_ptr<Loop>>& loops);
  ~LoopExchange();
  LoopExchange(const LoopExchange&) = delete;
  LoopExchange& operator=(const LoopExchange&) = delete;

 private:
  class Gate;
  // Which loop's board holds `to` (exact, or the wildcard address of its
  // port on loopback); -1: none.
  int where(const Ipv4SocketAddress& to);

  std::mutex mu_;  // guards where_: boards attach on their own threads
  std::map<Ipv4SocketAddress, size_t> where_;
  std::vector<std::unique_ptr<Gate>> gates_;  // one per loop
};

}  // namespace hil::runtime
