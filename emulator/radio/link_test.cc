#include "emulator/radio/link.h"

#include <gtest/gtest.h>

#include <cmath>

#include "emulator/radio/test_messages.h"

namespace hil::radio {
namespace {

using test::Bytes;

const Bytes kDatagram(40, 0x42);

Verdict send(Link& link, TimeMs now, Direction dir = Direction::Uplink,
             const Bytes& data = kDatagram) {
  return link.decide(now, dir, data.data(), data.size());
}

// Binomial bounds: the observed rate within 5 standard deviations.
void expect_rate(uint64_t hits, uint64_t n, double p) {
  const double sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(hits), n * p, 5 * sd) << hits << " of " << n;
}

TEST(Link, PerfectLink_PassesEverythingUnchanged) {
  Link link(LinkConfig{}, 1);
  const Verdict v = send(link, 0);
  EXPECT_EQ(v.fate, Fate::Delivered);
  ASSERT_EQ(v.copies.size(), 1u);
  EXPECT_EQ(v.copies[0].delay_ms, 0);
  EXPECT_EQ(v.copies[0].data, kDatagram);
  EXPECT_EQ(v.comment, "passed");
  EXPECT_EQ(link.decisions().back(), "0 up 40B delivered+0ms");
}

TEST(Link, IndependentLoss_RateWithinBounds) {
  LinkConfig c;
  c.loss = 0.2;
  Link link(c, 42);
  for (int i = 0; i < 10000; ++i) {
    const Verdict v = send(link, i);
    if (v.fate != Fate::Delivered) {
      EXPECT_EQ(v.fate, Fate::DroppedLoss);
      EXPECT_TRUE(v.copies.empty());
      EXPECT_EQ(v.comment, "dropped by loss");
    }
  }
  const DirectionCounters t = link.counters().total;
  EXPECT_EQ(t.sent, 10000u);
  EXPECT_EQ(t.dropped, t.dropped_loss);
  EXPECT_EQ(t.delivered + t.dropped, t.sent);
  expect_rate(t.dropped_loss, 10000, 0.2);
  EXPECT_EQ(link.counters().uplink.dropped_loss, t.dropped_loss);
  EXPECT_EQ(link.counters().downlink.sent, 0u);
}

TEST(Link, GilbertElliott_MeanBurstLengthIsOneOverPBadToGood) {
  LinkConfig c;
  c.burst = GilbertElliott{true, 0.02, 0.25, 0.0, 1.0};
  Link link(c, 7);
  uint64_t bursts = 0, lost = 0;
  bool in_burst = false;
  for (int i = 0; i < 100000; ++i) {
    const bool dropped = send(link, i).fate == Fate::DroppedBurst;
    bursts += dropped && !in_burst;
    lost += dropped;
    in_burst = dropped;
  }
  const double mean_burst = static_cast<double>(lost) / bursts;
  EXPECT_NEAR(mean_burst, 1 / 0.25, 0.4);
  // Stationary share of the bad state: p_gb / (p_gb + p_bg).
  EXPECT_NEAR(static_cast<double>(lost) / 100000, 0.02 / 0.27, 0.015);
  EXPECT_EQ(link.counters().total.dropped_burst, lost);
}

TEST(Link, DelayAndJitter_WithinBoundsAndSpread) {
  LinkConfig c;
  c.delay_ms = 100;
  c.jitter_ms = 20;
  Link link(c, 3);
  TimeMs lo = 1000, hi = 0;
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const TimeMs d = send(link, i).copies.at(0).delay_ms;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += d;
  }
  EXPECT_EQ(lo, 80);
  EXPECT_EQ(hi, 120);
  EXPECT_NEAR(sum / 10000, 100, 1);
  EXPECT_EQ(link.counters().total.delayed, 10000u);
}

TEST(Link, Jitter_NeverBelowZero) {
  LinkConfig c;
  c.delay_ms = 5;
  c.jitter_ms = 50;
  Link link(c, 3);
  for (int i = 0; i < 1000; ++i) EXPECT_GE(send(link, i).copies.at(0).delay_ms, 0);
}

TEST(Link, Duplication_TwoIdenticalCopies) {
  LinkConfig c;
  c.duplicate = 0.3;
  Link link(c, 11);
  uint64_t dups = 0;
  for (int i = 0; i < 10000; ++i) {
    const Verdict v = send(link, i);
    EXPECT_EQ(v.copies.size(), v.duplicated ? 2u : 1u);
    if (v.duplicated) {
      EXPECT_EQ(v.copies[1].data, kDatagram);
      EXPECT_EQ(v.comment, "duplicated");
      ++dups;
    }
  }
  expect_rate(dups, 10000, 0.3);
  EXPECT_EQ(link.counters().total.duplicated, dups);
}

TEST(Link, Reorder_HeldBackSoLaterOnesOvertake) {
  LinkConfig c;
  c.delay_ms = 10;
  c.reorder = 0.1;
  c.reorder_ms = 50;
  Link link(c, 5);
  uint64_t held = 0;
  for (int i = 0; i < 10000; ++i) {
    const Verdict v = send(link, i);
    EXPECT_EQ(v.copies[0].delay_ms, v.reordered ? 60 : 10);
    held += v.reordered;
  }
  expect_rate(held, 10000, 0.1);
  EXPECT_EQ(link.counters().total.reordered, held);
}

TEST(Link, Corruption_FlipsOneToThreeBitsAndSaysWhich) {
  LinkConfig c;
  c.corrupt = 1;
  Link link(c, 9);
  for (int i = 0; i < 200; ++i) {
    const Verdict v = send(link, i);
    ASSERT_TRUE(v.corrupted);
    int flipped = 0;
    std::string bits;
    for (size_t bit = 0; bit < kDatagram.size() * 8; ++bit) {
      if (((v.copies[0].data[bit / 8] ^ kDatagram[bit / 8]) & (0x80 >> (bit % 8))) == 0) continue;
      bits += (flipped++ ? ", " : "") + std::to_string(bit);
    }
    EXPECT_GE(flipped, 1);
    EXPECT_LE(flipped, 3);
    EXPECT_EQ(v.comment, "corrupted: bits " + bits);
  }
  EXPECT_EQ(link.counters().total.corrupted, 200u);
}

TEST(Link, Mtu_LargerDroppedAndCounted) {
  LinkConfig c;
  c.mtu = 40;
  Link link(c, 1);
  EXPECT_EQ(send(link, 0).fate, Fate::Delivered);
  const Verdict v = send(link, 1, Direction::Downlink, Bytes(41, 0));
  EXPECT_EQ(v.fate, Fate::DroppedMtu);
  EXPECT_EQ(v.comment, "dropped: 41 B exceeds mtu 40");
  EXPECT_EQ(link.counters().downlink.dropped_mtu, 1u);
  EXPECT_EQ(link.counters().total.dropped, 1u);
}

TEST(Link, Partition_PerDirectionHalfOpenWindow) {
  LinkConfig c;
  c.partitions = {Partition{100, 200, true, false}, Partition{300, 400, true, true}};
  Link link(c, 1);
  EXPECT_EQ(send(link, 99).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 100).fate, Fate::DroppedPartition);
  EXPECT_EQ(send(link, 150, Direction::Downlink).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 199).fate, Fate::DroppedPartition);
  EXPECT_EQ(send(link, 200).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 350, Direction::Downlink).fate, Fate::DroppedPartition);
  EXPECT_EQ(send(link, 350).comment, "dropped by partition");
  EXPECT_EQ(link.counters().uplink.dropped_partition, 3u);
  EXPECT_EQ(link.counters().downlink.dropped_partition, 1u);
}

TEST(Link, Sleep_DropsDownlinkOnly) {
  LinkConfig c;
  c.sleeps = {SleepWindow{1000, 5000}};
  Link link(c, 1);
  EXPECT_EQ(send(link, 2000).fate, Fate::Delivered);
  const Verdict v = send(link, 2000, Direction::Downlink);
  EXPECT_EQ(v.fate, Fate::DroppedAsleep);
  EXPECT_EQ(v.comment, "dropped: device asleep");
  EXPECT_EQ(send(link, 5000, Direction::Downlink).fate, Fate::Delivered);
  EXPECT_EQ(link.counters().downlink.dropped_asleep, 1u);
}

TEST(Link, Bandwidth_SerializationQueuePerDirection) {
  LinkConfig c;
  c.bandwidth_bps = 8000;  // one byte per millisecond
  Link link(c, 1);
  const Bytes kb(100, 0);
  EXPECT_EQ(send(link, 0, Direction::Uplink, kb).copies[0].delay_ms, 100);
  EXPECT_EQ(send(link, 0, Direction::Uplink, kb).copies[0].delay_ms, 200);  // queued behind
  EXPECT_EQ(send(link, 0, Direction::Downlink, kb).copies[0].delay_ms, 100);
  EXPECT_EQ(send(link, 150, Direction::Uplink, kb).copies[0].delay_ms, 150);
  EXPECT_EQ(send(link, 1000, Direction::Uplink, kb).copies[0].delay_ms, 100);  // idle again
  EXPECT_EQ(send(link, 1000, Direction::Uplink, Bytes(1, 0)).copies[0].delay_ms, 101);
}

TEST(Link, NatIdle_DownlinkDroppedThenUplinkRebinds) {
  LinkConfig c;
  c.nat_idle_ms = 30000;
  Link link(c, 1);
  EXPECT_FALSE(send(link, 0).nat_rebound);
  EXPECT_EQ(send(link, 20000, Direction::Downlink).fate, Fate::Delivered);  // refreshes
  EXPECT_EQ(send(link, 50000, Direction::Downlink).fate, Fate::Delivered);
  const Verdict late = send(link, 80001, Direction::Downlink);
  EXPECT_EQ(late.fate, Fate::DroppedNat);
  EXPECT_EQ(late.comment, "dropped: NAT binding expired");
  const Verdict up = send(link, 90000);
  EXPECT_TRUE(up.nat_rebound);
  EXPECT_EQ(up.comment, "NAT rebound to a new source port");
  EXPECT_EQ(send(link, 90001, Direction::Downlink).fate, Fate::Delivered);
  EXPECT_EQ(link.counters().uplink.nat_rebinds, 1u);
  EXPECT_EQ(link.counters().downlink.dropped_nat, 1u);
}

TEST(Link, NatRebindOnDemand) {
  Link link(LinkConfig{}, 1);
  send(link, 0);
  link.rebind_nat();
  EXPECT_EQ(send(link, 1, Direction::Downlink).fate, Fate::DroppedNat);
  EXPECT_TRUE(send(link, 2).nat_rebound);
  EXPECT_FALSE(send(link, 3).nat_rebound);
}

LinkConfig everything() {
  LinkConfig c;
  c.loss = 0.1;
  c.burst = GilbertElliott{true, 0.05, 0.3, 0.01, 0.8};
  c.delay_ms = 30;
  c.jitter_ms = 10;
  c.duplicate = 0.05;
  c.reorder = 0.05;
  c.reorder_ms = 40;
  c.corrupt = 0.05;
  c.bandwidth_bps = 100000;
  return c;
}

std::vector<std::string> run(uint64_t seed) {
  Link link(everything(), seed);
  for (int i = 0; i < 2000; ++i) {
    send(link, i * 3, i % 3 == 0 ? Direction::Downlink : Direction::Uplink);
  }
  return link.decisions();
}

TEST(Link, Determinism_SameSeedSameDecisionsOtherSeedOthers) {
  EXPECT_EQ(run(1234), run(1234));
  EXPECT_NE(run(1234), run(1235));
}

TEST(Link, Determinism_PinnedAcrossToolchains) {
  // The generator is ours, not <random>'s: these draws are the same everywhere.
  Rng rng(1);
  EXPECT_EQ(rng.next(), 0xb3f2af6d0fc710c5ULL);
  EXPECT_NE(link_seed(1, "dev-1"), link_seed(1, "dev-2"));
  EXPECT_EQ(link_seed(1, "dev-1"), link_seed(1, "dev-1"));
}

TEST(Link, Configure_WhileRunningKeepsStateAndRejectsInvalid) {
  Link link(LinkConfig{}, 1);
  send(link, 0);
  LinkConfig lossy;
  lossy.loss = 1;
  ASSERT_TRUE(link.configure(lossy).ok());
  EXPECT_EQ(send(link, 1).fate, Fate::DroppedLoss);
  lossy.loss = 1.5;
  const Status s = link.configure(lossy);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "loss: must be 0..1, got 1.5");
  EXPECT_EQ(link.config().loss, 1);
  EXPECT_FALSE(Link::create(lossy, 1).ok());
}

TEST(Link, Validate_NamesFieldAndRange) {
  const auto message = [](LinkConfig c) { return validate(c).error().message; };
  LinkConfig c;
  EXPECT_TRUE(validate(c).ok());
  c.delay_ms = -3;
  EXPECT_EQ(message(c), "delay_ms: must be >= 0, got -3");
  c = LinkConfig{};
  c.burst.p_bad_to_good = 2;
  EXPECT_EQ(message(c), "burst.p_bad_to_good: must be 0..1, got 2");
  c = LinkConfig{};
  c.reorder = 0.5;
  EXPECT_EQ(message(c), "reorder_ms: must be > 0 when reorder > 0, got 0");
  c = LinkConfig{};
  c.mtu = -1;
  EXPECT_EQ(message(c), "mtu: must be >= 0, got -1");
  c = LinkConfig{};
  c.partitions = {Partition{10, 5}};
  EXPECT_EQ(message(c), "partitions[0]: must have 0 <= start_ms < end_ms, got 10..5");
  c.partitions = {Partition{0, 5, false, false}};
  EXPECT_EQ(message(c), "partitions[0]: must block uplink, downlink or both");
  c = LinkConfig{};
  c.sleeps = {SleepWindow{0, 1}, SleepWindow{7, 7}};
  EXPECT_EQ(message(c), "sleeps[1]: must have 0 <= start_ms < end_ms, got 7..7");
  c = LinkConfig{};
  c.duplicate = std::nan("");
  EXPECT_EQ(message(c), "duplicate: must be 0..1, got nan");
}

TEST(Link, Comment_CombinesEffects) {
  LinkConfig c;
  c.delay_ms = 120;
  c.duplicate = 1;
  c.corrupt = 1;
  Link link(c, 2);
  const Verdict v = send(link, 5);
  EXPECT_EQ(v.comment.rfind("delayed by 120 ms; duplicated; corrupted: bits ", 0), 0u) << v.comment;
  EXPECT_EQ(v.copies[0].data, v.copies[1].data);
  EXPECT_EQ(link.decisions().back(), "5 up 40B delivered+120ms+120ms corrupt");
}

// Delays are kept beside the decisions, for those that have one: each line
// still shows its own.
TEST(Link, Decisions_EachLineKeepsItsOwnDelays) {
  Link link(LinkConfig{}, 3);
  auto send_with = [&](TimeMs now, Direction dir, const LinkConfig& c) {
    ASSERT_TRUE(link.configure(c).ok());
    send(link, now, dir);
  };
  LinkConfig slow, lost, twice;
  slow.delay_ms = 70;
  lost.loss = 1;
  twice.duplicate = 1;
  twice.delay_ms = 9;
  send_with(1, Direction::Uplink, LinkConfig{});
  send_with(2, Direction::Downlink, slow);
  send_with(3, Direction::Uplink, lost);
  send_with(4, Direction::Uplink, twice);
  send_with(5, Direction::Downlink, LinkConfig{});
  EXPECT_EQ(link.decisions(),
            (std::vector<std::string>{"1 up 40B delivered+0ms", "2 down 40B delivered+70ms",
                                      "3 up 40B loss", "4 up 40B delivered+9ms+9ms",
                                      "5 down 40B delivered+0ms"}));
}

}  // namespace
}  // namespace hil::radio
