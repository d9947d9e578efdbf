// One device's radio link, sans I/O: the host hands it every datagram with the
// current time and gets back what the air does to it (the copies to deliver,
// each after a delay, or none). No sockets, no clock reads, no exceptions; all
// chance comes from one seeded generator, so one seed and one sequence of
// decide() calls give one sequence of verdicts.
// Every error here is ErrorCode::kInvalidArgument, naming the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/result.h"
#include "emulator/radio/rng.h"
#include "emulator/radio/rules.h"

namespace hil::radio {

// Bursty loss: a two-state Markov chain stepped once per datagram that
// reaches the random models, losing with the probability of its state.
struct GilbertElliott {
  bool enabled = false;
  double p_good_to_bad = 0;
  double p_bad_to_good = 1;
  double loss_in_good = 0;
  double loss_in_bad = 1;
};

// [start_ms, end_ms): the link carries nothing in the blocked directions.
struct Partition {
  TimeMs start_ms = 0;
  TimeMs end_ms = 0;
  bool uplink = true;
  bool downlink = true;
};

// [start_ms, end_ms): the device sleeps; downlink datagrams are lost.
struct SleepWindow {
  TimeMs start_ms = 0;
  TimeMs end_ms = 0;
};

struct LinkConfig {
  double loss = 0;  // independent loss probability
  GilbertElliott burst;
  TimeMs delay_ms = 0;   // one-way propagation delay
  TimeMs jitter_ms = 0;  // the delay varies uniformly by up to +-jitter_ms (never below 0)
  double duplicate = 0;  // probability of a second copy
  double reorder = 0;    // probability a datagram is held back reorder_ms
  TimeMs reorder_ms = 0;
  double corrupt = 0;         // probability of flipping 1..3 bits
  int64_t bandwidth_bps = 0;  // 0 = unlimited; else a serialization queue per direction
  int64_t mtu = 0;            // 0 = unlimited; larger datagrams are dropped
  TimeMs nat_idle_ms = 0;     // 0 = the NAT binding never expires
  std::vector<Partition> partitions;
  std::vector<SleepWindow> sleeps;
};

// Names the offending field and its allowed range: "loss: must be 0..1, got 1.5".
Status validate(const LinkConfig& config);

enum class Fate {
  Delivered,
  DroppedLoss,
  DroppedBurst,
  DroppedPartition,
  DroppedAsleep,
  DroppedMtu,
  DroppedRule,
  DroppedNat,  // downlink after the NAT binding expired
};

const char* to_string(Fate fate);

// One copy to deliver delay_ms after decide() was called.
struct Copy {
  TimeMs delay_ms = 0;
  std::vector<uint8_t> data;
};

struct Verdict {
  Fate fate = Fate::Delivered;
  std::vector<Copy> copies;  // empty when dropped, two when duplicated
  bool corrupted = false;
  bool duplicated = false;
  bool reordered = false;
  // An uplink after the binding expired: servers see a new source port from
  // here on, so the host sends this and later datagrams from a new socket.
  bool nat_rebound = false;
  std::string comment;  // for the capture: "passed", "dropped by loss", "delayed by 120 ms; ..."
  std::string rule;     // the rule that fired, if any
};

struct DirectionCounters {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t dropped_loss = 0;
  uint64_t dropped_burst = 0;
  uint64_t dropped_partition = 0;
  uint64_t dropped_asleep = 0;
  uint64_t dropped_mtu = 0;
  uint64_t dropped_rule = 0;
  uint64_t dropped_nat = 0;
  uint64_t duplicated = 0;
  uint64_t corrupted = 0;
  uint64_t delayed = 0;  // any copy delivered later than decide()
  uint64_t reordered = 0;
  uint64_t nat_rebinds = 0;

  DirectionCounters& operator+=(const DirectionCounters& c);
};

struct LinkCounters {
  DirectionCounters total;
  DirectionCounters uplink;
  DirectionCounters downlink;
};

class Link {
 public:
  // The config must pass validate(); create() checks it for you.
  Link(LinkConfig config, uint64_t seed);
  static Result<Link> create(LinkConfig config, uint64_t seed);

  // Changes the models while running; the generator, the burst state, the
  // bandwidth queues, the NAT binding and the rules carry on.
  Status configure(LinkConfig config);
  const LinkConfig& config() const { return config_; }

  Status add_rule(Rule rule) { return rules_.add(std::move(rule)); }
  void clear_rules() { rules_.clear(); }

  // Expires the NAT binding now, as if the carrier had dropped it.
  void rebind_nat() { nat_.expired = true; }
  // The device is busy (writing flash) until `until`: what it sends before
  // then leaves at `until`, as from a CPU that was blocked.
  void hold_uplink(TimeMs until) { hold_until_ = until; }

  Verdict decide(TimeMs now, Direction dir, const uint8_t* data, size_t len);

  LinkCounters counters() const;
  // One compact line per datagram ("1234 up 45B delivered+12ms"): two runs
  // with the same seed compare equal line by line.
  std::vector<std::string> decisions() const;

 private:
  struct Nat {
    bool bound = false;
    bool expired = false;
    TimeMs last_ms = 0;
  };

  std::optional<Fate> blocked(TimeMs now, Direction dir, size_t len) const;
  bool nat_expired(TimeMs now) const;
  void pass_nat(TimeMs now, Direction dir, Verdict& v);
  TimeMs serialize(TimeMs now, Direction dir, size_t len);
  std::optional<Fate> lose();
  void transmit(TimeMs now, Direction dir, const uint8_t* data, size_t len, const Rule* rule,
                Verdict& v);
  TimeMs propagation(bool random);
  std::string corrupt(std::vector<Copy>& copies);
  std::string comment(const Verdict& v, size_t len, const std::string& corruption) const;
  void record(TimeMs now, Direction dir, size_t len, const Verdict& v);

  LinkConfig config_;
  Rng rng_;
  RuleSet rules_;
  bool burst_bad_ = false;
  int64_t busy_until_us_[2] = {0, 0};
  Nat nat_;
  // Per direction only: the total is their sum, and a fleet holds one link
  // per device.
  DirectionCounters uplink_, downlink_;
  // Kept compact (a fleet keeps every device's, 16 bytes each): formatted
  // by decisions(). Most datagrams pass as one copy without delay; the
  // delays of the others are kept beside, in delays_.
  struct Decision {
    TimeMs time;
    uint16_t len;       // a UDP payload's length fits; longer ones read 65535
    uint8_t dir_fate;   // Direction << 4 | Fate
    uint8_t flags;      // kCorrupt | kReorder | kNat | copies << kCopiesShift | kDelays
    uint16_t rule = 0;  // 1 + index in rule_names_; 0: no rule fired
  };
  struct Delays {
    int32_t delay_ms[2];
  };
  std::vector<Decision> decisions_;
  std::vector<Delays> delays_;  // one per decision flagged kDelays, in order
  std::vector<std::string> rule_names_;
  TimeMs hold_until_ = 0;
};

}  // namespace hil::radio
