// Boards of different loops joined: a datagram for an address attached on
// another loop reaches it there, on that loop's thread, once the sender's
// turn ends; nothing is taken for an address no loop holds, or for one the
// sender's own board holds (no ping-pong).
#include "emulator/runtime/loop_exchange.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace hil::runtime {
namespace {

struct Heard {
  std::string text;
  Ipv4SocketAddress from;
  bool on_loop_thread;
};

TEST(LoopExchange, DatagramForAnotherLoop_ArrivesOnItsThread_AfterTheSendersTurn) {
  RealClock clock;
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < 2; ++i) {
    loops.push_back(std::make_unique<Loop>(clock));
    loops.back()->start();
  }
  auto exchange = std::make_unique<LoopExchange>(loops);
  {
    const Ipv4SocketAddress server{ipv4(127, 0, 0, 1), 5683}, device{ipv4(127, 1, 0, 9), 50000};
    std::vector<Heard> heard;  // loop 1's thread only
    loops[1]->call([&] {
      loops[1]->switchboard().attach(
          server, [&](const Ipv4SocketAddress& from, const Ipv4SocketAddress&, const uint8_t* data,
                      size_t len) {
            heard.push_back({std::string(reinterpret_cast<const char*>(data), len), from,
                             loops[1]->on_loop_thread()});
          });
    });
    size_t heard_in_turn = 99;
    bool taken = loops[0]->call([&] {
      Switchboard& board = loops[0]->switchboard();
      bool ok = board.send(device, server, reinterpret_cast<const uint8_t*>("hello"), 5);
      // Unknown here and elsewhere: the caller's socket must carry it.
      EXPECT_FALSE(
          board.send(device, {ipv4(127, 0, 0, 1), 5684}, reinterpret_cast<const uint8_t*>("x"), 1));
      heard_in_turn = loops[1]->call([&] { return heard.size(); });
      return ok;
    });
    EXPECT_TRUE(taken);
    EXPECT_EQ(heard_in_turn, 0u);  // not before the sender's turn ended
    std::vector<Heard> got;
    for (int i = 0; i < 500 && got.empty(); ++i) {
      got = loops[1]->call([&] { return heard; });
      if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].text, "hello");
    EXPECT_EQ(got[0].from, device);
    EXPECT_TRUE(got[0].on_loop_thread);
    // Loop 1's own board does not send its own address beyond.
    EXPECT_FALSE(loops[1]->call([&] {
      loops[1]->switchboard().detach(server);
      return loops[1]->switchboard().send(device, server, reinterpret_cast<const uint8_t*>("y"), 1);
    }));
    // Detached: loop 0 no longer finds it either.
    EXPECT_FALSE(loops[0]->call([&] {
      return loops[0]->switchboard().send(device, server, reinterpret_cast<const uint8_t*>("z"), 1);
    }));
  }
  for (auto& loop : loops) loop->stop();  // as the runtime does: the loops stop first
  exchange.reset();
}

}  // namespace
}  // namespace hil::runtime
