#include "emulator/base/datagram_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hil {
namespace {

struct Seen {
  Ipv4SocketAddress from, to;
  std::string text;
};

std::vector<Seen> seen(const DatagramBatch& batch) {
  std::vector<Seen> out;
  batch.for_each([&](const Ipv4SocketAddress& from, const Ipv4SocketAddress& to,
                     const uint8_t* data, size_t len) {
    out.push_back({from, to, std::string(reinterpret_cast<const char*>(data), len)});
  });
  return out;
}

TEST(DatagramBatch, EachDatagramKeepsItsAddressesAndBytesInOrder_ClearEmpties) {
  const Ipv4SocketAddress a{ipv4(127, 1, 0, 1), 40000}, b{ipv4(127, 0, 0, 1), 5683};
  DatagramBatch batch;
  EXPECT_TRUE(batch.empty());
  batch.add(a, b, reinterpret_cast<const uint8_t*>("first"), 5);
  batch.add(b, a, reinterpret_cast<const uint8_t*>(""), 0);
  batch.add(b, a, reinterpret_cast<const uint8_t*>("third one"), 9);
  ASSERT_EQ(batch.size(), 3u);
  const std::vector<Seen> got = seen(batch);
  EXPECT_EQ(got[0].from, a);
  EXPECT_EQ(got[0].to, b);
  EXPECT_EQ(got[0].text, "first");
  EXPECT_EQ(got[1].text, "");
  EXPECT_EQ(got[2].from, b);
  EXPECT_EQ(got[2].text, "third one");
  batch.clear();
  EXPECT_TRUE(batch.empty());
  batch.add(a, b, reinterpret_cast<const uint8_t*>("again"), 5);
  EXPECT_EQ(seen(batch).size(), 1u);
  EXPECT_EQ(seen(batch)[0].text, "again");
}

}  // namespace
}  // namespace hil
