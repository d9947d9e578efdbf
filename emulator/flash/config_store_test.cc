#include "emulator/flash/config_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <set>

namespace hil::flash {
namespace {

using Payload = std::vector<uint8_t>;

// 4 sectors of 1 KiB with 64-byte pages, so a record spans several programs.
// kError: any program of a 1 over a 0 by the store fails the test.
NorFlashOptions options(uint64_t seed = 1) {
  NorFlashOptions o;
  o.geometry = Geometry{4 * 1024, 1024, 64};
  o.on_violation = ViolationPolicy::kError;
  o.endurance = 0;
  o.seed = seed;
  return o;
}

Payload payload(uint8_t tag, size_t len) {
  Payload p(len);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(tag + i * 7);
  return p;
}

struct State {
  std::optional<Payload> payload;
  uint32_t boots = 0;
  bool operator==(const State& o) const { return payload == o.payload && boots == o.boots; }
};

State remount(NorFlash& f) {
  ConfigStore s(f);
  Status st = s.mount();
  EXPECT_TRUE(st.ok()) << st.error().message;
  return State{s.load(), s.boot_count()};
}

// Records each operation's length so a sweep can cut inside it.
class OpLog final : public Flash {
 public:
  explicit OpLog(NorFlash& f) : f_(f) {}
  const Geometry& geometry() const override { return f_.geometry(); }
  Status read(uint32_t a, uint8_t* o, size_t n) override { return f_.read(a, o, n); }
  Status program(uint32_t a, const uint8_t* d, size_t n) override {
    lengths.push_back(static_cast<uint32_t>(n));
    return f_.program(a, d, n);
  }
  Status erase(uint32_t s) override {
    lengths.push_back(f_.geometry().sector_size);
    return f_.erase(s);
  }
  std::vector<uint32_t> lengths;

 private:
  NorFlash& f_;
};

std::vector<std::optional<uint32_t>> offsets(uint32_t len) {
  std::set<uint32_t> at = {0, 1, 2, 3, 4, len / 4, len / 2, 3 * len / 4, len - 1, len};
  if (len > 16) at.insert({15, 16, 17});
  std::vector<std::optional<uint32_t>> out = {std::nullopt};
  for (uint32_t k : at) {
    if (k <= len) out.push_back(k);
  }
  return out;
}

using Step = std::function<Status(ConfigStore&)>;

// Runs `prepare` on a fresh flash, then `act` once with a power cut at every
// operation of `act` and at several bytes inside each. After each cut and a
// reboot the store must hold exactly the state before `act` or after it,
// and take a further commit; both outcomes must occur. Returns the number of
// cut points tried.
int sweep(const Step& prepare, const Step& act, uint64_t seed) {
  NorFlash base(options(seed));
  {
    ConfigStore s(base);
    EXPECT_TRUE(s.mount().ok());
    Status st = prepare(s);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  const State before = remount(base);

  NorFlash dry = base;
  OpLog log(dry);
  {
    ConfigStore s(log);
    EXPECT_TRUE(s.mount().ok());
    Status st = act(s);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  const State after = remount(dry);
  EXPECT_FALSE(before == after);

  int tried = 0, olds = 0, news = 0;
  for (size_t op = 0; op < log.lengths.size(); ++op) {
    for (std::optional<uint32_t> at : offsets(log.lengths[op])) {
      NorFlash f = base;
      f.arm_power_cut(f.ops() + op, at);
      ConfigStore s(f);
      EXPECT_TRUE(s.mount().ok());
      Status st = act(s);
      EXPECT_FALSE(st.ok());
      if (!st.ok()) {
        EXPECT_EQ(st.error().code, ErrorCode::kPowerLost) << st.error().message;
      }
      f.power_on();
      const State got = remount(f);
      EXPECT_TRUE(got == before || got == after)
          << "powerloss seed " << seed << " op " << op << " byte " << (at ? int(*at) : -1);
      olds += got == before;
      news += got == after;
      ConfigStore again(f);
      EXPECT_TRUE(again.mount().ok());
      const Payload next = payload(0xE0, 50);
      Status c = again.commit(next);
      EXPECT_TRUE(c.ok()) << c.error().message;
      EXPECT_EQ(remount(f).payload, next);
      ++tried;
    }
  }
  EXPECT_GT(olds, 0);
  EXPECT_GT(news, 0);
  return tried;
}

TEST(ConfigStore, PowerCutSweep_EveryOpAndBytesOfEveryWrite_OldOrNewExactly) {
  const Payload old_p = payload(1, 300), new_p = payload(2, 500);
  const Step commit_new = [&](ConfigStore& s) { return s.commit(new_p); };
  const Step one_old = [&](ConfigStore& s) { return s.commit(old_p); };
  // Leaves the active sector too full for new_p, so committing it opens and
  // erases another sector.
  const Step full_old = [&](ConfigStore& s) {
    Status st = s.commit(payload(9, 640));  // 16 + 672 + 332: 4 bytes left
    return st ? s.commit(old_p) : st;
  };
  const Step boot = [](ConfigStore& s) { return s.count_boot(); };
  const Step reset = [&](ConfigStore& s) { return s.factory_reset(payload(3, 120)); };
  int tried = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    tried += sweep(one_old, commit_new, seed);   // append in the active sector
    tried += sweep(full_old, commit_new, seed);  // erase and open the next sector
    tried += sweep(one_old, boot, seed);
    tried += sweep(full_old, boot, seed);  // the payload is carried to the new sector
    tried += sweep(full_old, reset, seed);
  }
  std::cout << "power-cut sweep: " << tried << " cut points tried\n";
  ::testing::Test::RecordProperty("cut_points", tried);
  EXPECT_GT(tried, 500);
}

TEST(ConfigStore, Mount_BlankFlash_EmptyAndNoWrites) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  EXPECT_FALSE(s.load().has_value());
  EXPECT_EQ(s.boot_count(), 0u);
  EXPECT_EQ(f.ops(), 0u);
}

TEST(ConfigStore, Mount_FewerThanTwoSectors_Error) {
  NorFlash f(options());
  EXPECT_FALSE(ConfigStore(f, StoreOptions{3, 0, false}).mount().ok());
  EXPECT_FALSE(ConfigStore(f, StoreOptions{0, 1, false}).mount().ok());
  EXPECT_FALSE(ConfigStore(f, StoreOptions{2, 3, false}).mount().ok());
  EXPECT_TRUE(ConfigStore(f, StoreOptions{2, 2, false}).mount().ok());
}

TEST(ConfigStore, Commit_BeforeMount_Error) {
  NorFlash f(options());
  ConfigStore s(f);
  EXPECT_FALSE(s.commit(payload(1, 4)).ok());
}

TEST(ConfigStore, Commit_ThenRemount_LatestPayload) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  for (uint8_t i = 0; i < 30; ++i) ASSERT_TRUE(s.commit(payload(i, 10 + i * 13)).ok());
  EXPECT_EQ(s.load(), payload(29, 10 + 29 * 13));
  EXPECT_EQ(remount(f).payload, payload(29, 10 + 29 * 13));
}

TEST(ConfigStore, Commit_EmptyPayload_StoredAsEmptyNotAbsent) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit({}).ok());
  EXPECT_EQ(remount(f).payload, Payload{});
}

TEST(ConfigStore, Mount_CountBootOnMount_IncrementsEachBoot) {
  NorFlash f(options());
  for (uint32_t boot = 1; boot <= 40; ++boot) {
    ConfigStore s(f, StoreOptions{0, 0, true});
    ASSERT_TRUE(s.mount().ok());
    EXPECT_EQ(s.boot_count(), boot);
    if (boot == 5) {
      ASSERT_TRUE(s.commit(payload(5, 100)).ok());
    }
  }
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  EXPECT_EQ(s.load(), payload(5, 100));  // carried over every sector change since
}

TEST(ConfigStore, BitFlip_AnyByteOfLatestRecord_FallsBackToPrevious) {
  const Payload a = payload(1, 64), b = payload(2, 64);
  NorFlash base(options());
  ConfigStore s(base);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(a).ok());
  ASSERT_TRUE(s.commit(b).ok());
  Result<StoreView> view = s.inspect();
  ASSERT_TRUE(view.ok());
  const RecordView latest = view->records.back();
  ASSERT_TRUE(latest.live);
  const uint32_t start = latest.sector * 1024 + latest.offset;
  for (uint32_t i = 0; i < 32 + latest.length; ++i) {
    NorFlash f = base;
    ASSERT_TRUE(f.flip_bit(start + i, i % 8).ok());
    EXPECT_EQ(remount(f).payload, a) << "flipped byte " << i;
  }
}

TEST(ConfigStore, BitFlip_FirstRecordOfNewSector_FallsBackToOldSectorAndItSurvives) {
  NorFlash f(options());
  const StoreOptions two{0, 2, false};  // round-robin would pick the fallback's sector next
  ConfigStore s(f, two);
  ASSERT_TRUE(s.mount().ok());
  const Payload a = payload(1, 900), b = payload(2, 900);
  ASSERT_TRUE(s.commit(a).ok());
  ASSERT_TRUE(s.commit(b).ok());  // does not fit sector 0: opens sector 1
  ASSERT_TRUE(f.flip_bit(1024 + 16 + 32 + 5, 1).ok());
  ConfigStore after(f, two);
  ASSERT_TRUE(after.mount().ok());
  EXPECT_EQ(after.load(), a);
  // Every later commit opens a new sector; the one holding `a` must not be
  // erased before a newer payload is committed elsewhere.
  for (uint8_t i = 0; i < 8; ++i) {
    NorFlash probe = f;
    probe.arm_power_cut(probe.ops() + 1);  // after the erase, before the record
    ConfigStore p(probe, two);
    ASSERT_TRUE(p.mount().ok());
    EXPECT_FALSE(p.commit(payload(i, 900)).ok());
    probe.power_on();
    EXPECT_EQ(remount(probe).payload, i == 0 ? a : payload(i - 1, 900));
    ConfigStore next(f, two);
    ASSERT_TRUE(next.mount().ok());
    ASSERT_TRUE(next.commit(payload(i, 900)).ok());
  }
}

TEST(ConfigStore, BitFlip_OnlyRecord_ReportsEmpty) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(payload(1, 40)).ok());
  ASSERT_TRUE(f.flip_bit(16 + 32 + 20, 0).ok());
  EXPECT_FALSE(remount(f).payload.has_value());
  ConfigStore again(f);
  ASSERT_TRUE(again.mount().ok());
  Result<StoreView> view = again.inspect();
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->records.size(), 1u);
  EXPECT_TRUE(view->records[0].header_ok);
  EXPECT_TRUE(view->records[0].committed);
  EXPECT_FALSE(view->records[0].crc_ok);
  EXPECT_FALSE(view->records[0].live);
}

TEST(ConfigStore, Commit_10000Times_EraseCountsWithinOneAcrossSectors) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  for (int i = 0; i < 10000; ++i) {
    const Payload p = payload(static_cast<uint8_t>(i), 100 + i % 50);
    ASSERT_TRUE(s.commit(p).ok()) << i;
    if (i % 1000 == 999) {
      ASSERT_EQ(remount(f).payload, p);
    }
  }
  const std::vector<uint32_t>& counts = f.erase_counts();
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  std::cout << "erase counts after 10000 commits:";
  for (uint32_t c : counts) std::cout << ' ' << c;
  std::cout << '\n';
  EXPECT_GT(*lo, 300u);
  EXPECT_LE(*hi - *lo, 1u);  // round-robin: spread of at most one erase
}

TEST(ConfigStore, Commit_PayloadLargerThanSector_ErrorOldIntact) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(payload(1, 10)).ok());
  const uint64_t ops = f.ops();
  EXPECT_EQ(s.max_payload(), 1024u - 16 - 32);
  Status st = s.commit(payload(2, s.max_payload() + 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(st.error().message.find("does not fit"), std::string::npos);
  EXPECT_EQ(f.ops(), ops);  // nothing written
  EXPECT_EQ(s.load(), payload(1, 10));
  EXPECT_EQ(remount(f).payload, payload(1, 10));
  EXPECT_TRUE(s.commit(payload(3, s.max_payload())).ok());  // the largest one fits
  EXPECT_EQ(remount(f).payload, payload(3, s.max_payload()));
}

TEST(ConfigStore, Commit_WornOutSector_SkippedAndStoreKeepsWorking) {
  NorFlashOptions o = options();
  o.endurance = 1000;
  NorFlash f(o);
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(f.wear_out(2).ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.commit(payload(i, 400)).ok()) << i;
  EXPECT_EQ(remount(f).payload, payload(99, 400));
  EXPECT_EQ(f.erase_counts()[2], 1000u + 1);  // tried once, then left alone
  Result<StoreView> view = s.inspect();
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->sectors[2].bad);
}

TEST(ConfigStore, Commit_AllOtherSectorsWorn_ClearErrorOldIntact) {
  NorFlashOptions o = options();
  o.endurance = 1000;
  NorFlash f(o);
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(payload(1, 900)).ok());
  for (uint32_t i = 1; i < 4; ++i) ASSERT_TRUE(f.wear_out(i).ok());
  Status st = s.commit(payload(2, 900));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("unchanged"), std::string::npos) << st.error().message;
  EXPECT_EQ(remount(f).payload, payload(1, 900));
}

TEST(ConfigStore, FactoryReset_AfterCommits_OnlyFactoryLeftBootsKept) {
  NorFlash f(options());
  ConfigStore s(f, StoreOptions{0, 0, true});
  ASSERT_TRUE(s.mount().ok());
  for (uint8_t i = 0; i < 10; ++i) ASSERT_TRUE(s.commit(payload(i, 300)).ok());
  ASSERT_TRUE(s.factory_reset(payload(0xFA, 60)).ok());
  EXPECT_EQ(s.load(), payload(0xFA, 60));
  const State st = remount(f);
  EXPECT_EQ(st.payload, payload(0xFA, 60));
  EXPECT_EQ(st.boots, 1u);
  ConfigStore view_store(f);
  Result<StoreView> view = view_store.inspect();
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->records.size(), 1u);  // no old configuration left anywhere
  EXPECT_EQ(view->records[0].length, 60u);
}

TEST(ConfigStore, Inspect_AfterCommitsAndBoot_DecodesEveryRecord) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(payload(1, 10)).ok());
  ASSERT_TRUE(s.count_boot().ok());
  ASSERT_TRUE(s.commit(payload(2, 20)).ok());
  Result<StoreView> view = s.inspect();
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->records.size(), 3u);
  EXPECT_EQ(view->records[1].kind, RecordKind::kBoot);
  EXPECT_EQ(view->records[2].seq, view->records[0].seq + 2);
  EXPECT_EQ(view->records[2].boot_count, 1u);
  EXPECT_TRUE(view->records[2].live);
  EXPECT_FALSE(view->records[0].live);
  EXPECT_TRUE(view->sectors[0].active);
  EXPECT_EQ(view->sectors[0].write_offset, 16u + 44 + 32 + 52);
}

TEST(ConfigStore, Mount_TornHeaderInActiveSector_NextCommitMovesOn) {
  NorFlash f(options());
  ConfigStore s(f);
  ASSERT_TRUE(s.mount().ok());
  ASSERT_TRUE(s.commit(payload(1, 10)).ok());
  ASSERT_TRUE(f.flip_bit(16 + 44 + 8, 2).ok());  // garbage where the next header goes
  ConfigStore after(f);
  ASSERT_TRUE(after.mount().ok());
  EXPECT_EQ(after.load(), payload(1, 10));
  ASSERT_TRUE(after.commit(payload(2, 10)).ok());
  EXPECT_EQ(remount(f).payload, payload(2, 10));
  EXPECT_EQ(f.counters().violations, 0u);
}

}  // namespace
}  // namespace hil::flash
