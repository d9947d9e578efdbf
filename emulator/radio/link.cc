#include "emulator/radio/link.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace hil::radio {
namespace {

constexpr uint8_t kCorrupt = 1, kReorder = 2, kNat = 4, kDelays = 32;
constexpr int kCopiesShift = 3;  // two bits: 0, 1 or 2 copies

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Status check_probability(const std::string& field, double p) {
  if (p >= 0 && p <= 1) return ok_status();
  return Error{ErrorCode::kInvalidArgument, field + ": must be 0..1, got " + number(p)};
}

Status check_non_negative(const std::string& field, int64_t v) {
  if (v >= 0) return ok_status();
  return Error{ErrorCode::kInvalidArgument, field + ": must be >= 0, got " + std::to_string(v)};
}

Status check_window(const std::string& field, TimeMs start, TimeMs end) {
  if (start >= 0 && end > start) return ok_status();
  return Error{ErrorCode::kInvalidArgument, field + ": must have 0 <= start_ms < end_ms, got " +
                                                std::to_string(start) + ".." + std::to_string(end)};
}

Status validate_burst(const GilbertElliott& b) {
  const std::pair<const char*, double> fields[] = {{"burst.p_good_to_bad", b.p_good_to_bad},
                                                   {"burst.p_bad_to_good", b.p_bad_to_good},
                                                   {"burst.loss_in_good", b.loss_in_good},
                                                   {"burst.loss_in_bad", b.loss_in_bad}};
  for (const auto& [name, p] : fields) {
    HIL_TRY(check_probability(name, p));
  }
  return ok_status();
}

Status validate_windows(const LinkConfig& c) {
  for (size_t i = 0; i < c.partitions.size(); ++i) {
    const Partition& p = c.partitions[i];
    const std::string field = "partitions[" + std::to_string(i) + "]";
    HIL_TRY(check_window(field, p.start_ms, p.end_ms));
    if (!p.uplink && !p.downlink)
      return Error{ErrorCode::kInvalidArgument, field + ": must block uplink, downlink or both"};
  }
  for (size_t i = 0; i < c.sleeps.size(); ++i) {
    const SleepWindow& w = c.sleeps[i];
    HIL_TRY(check_window("sleeps[" + std::to_string(i) + "]", w.start_ms, w.end_ms));
  }
  return ok_status();
}

bool within(TimeMs now, TimeMs start, TimeMs end) { return now >= start && now < end; }

DirectionCounters& count_fate(DirectionCounters& c, Fate fate) {
  ++c.sent;
  // In the order of Fate.
  uint64_t* const by_fate[] = {&c.delivered,         &c.dropped_loss,   &c.dropped_burst,
                               &c.dropped_partition, &c.dropped_asleep, &c.dropped_mtu,
                               &c.dropped_rule,      &c.dropped_nat};
  ++*by_fate[static_cast<int>(fate)];
  if (fate != Fate::Delivered) ++c.dropped;
  return c;
}

void count_effects(DirectionCounters& c, const Verdict& v) {
  const bool delayed = std::any_of(v.copies.begin(), v.copies.end(),
                                   [](const Copy& copy) { return copy.delay_ms > 0; });
  c.duplicated += v.duplicated;
  c.corrupted += v.corrupted;
  c.reordered += v.reordered;
  c.delayed += delayed;
  c.nat_rebinds += v.nat_rebound;
}

std::string drop_reason(Fate fate) {
  switch (fate) {
    case Fate::DroppedLoss:
      return "dropped by loss";
    case Fate::DroppedBurst:
      return "dropped by burst loss";
    case Fate::DroppedPartition:
      return "dropped by partition";
    case Fate::DroppedAsleep:
      return "dropped: device asleep";
    case Fate::DroppedNat:
      return "dropped: NAT binding expired";
    default:
      return "";
  }
}

std::string delays(const std::vector<Copy>& copies) {
  std::string out = "delayed by " + std::to_string(copies[0].delay_ms) + " ms";
  if (copies.size() > 1 && copies[1].delay_ms != copies[0].delay_ms) {
    out += " and " + std::to_string(copies[1].delay_ms) + " ms";
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

}  // namespace

Status validate(const LinkConfig& c) {
  const std::pair<const char*, double> probabilities[] = {
      {"loss", c.loss}, {"duplicate", c.duplicate}, {"reorder", c.reorder}, {"corrupt", c.corrupt}};
  for (const auto& [name, p] : probabilities) {
    HIL_TRY(check_probability(name, p));
  }
  const std::pair<const char*, int64_t> amounts[] = {
      {"delay_ms", c.delay_ms}, {"jitter_ms", c.jitter_ms},         {"reorder_ms", c.reorder_ms},
      {"mtu", c.mtu},           {"bandwidth_bps", c.bandwidth_bps}, {"nat_idle_ms", c.nat_idle_ms}};
  for (const auto& [name, v] : amounts) {
    HIL_TRY(check_non_negative(name, v));
  }
  if (c.reorder > 0 && c.reorder_ms == 0) {
    return Error{ErrorCode::kInvalidArgument, "reorder_ms: must be > 0 when reorder > 0, got 0"};
  }
  HIL_TRY(validate_burst(c.burst));
  return validate_windows(c);
}

const char* to_string(Fate fate) {
  // In the order of Fate.
  static const char* const kNames[] = {"delivered", "loss", "burst", "partition",
                                       "asleep",    "mtu",  "rule",  "nat"};
  return kNames[static_cast<int>(fate)];
}

Link::Link(LinkConfig config, uint64_t seed) : config_(std::move(config)), rng_(seed) {}

Result<Link> Link::create(LinkConfig config, uint64_t seed) {
  HIL_TRY(validate(config));
  return Link(std::move(config), seed);
}

Status Link::configure(LinkConfig config) {
  Status s = validate(config);
  if (s) config_ = std::move(config);
  return s;
}

Verdict Link::decide(TimeMs now, Direction dir, const uint8_t* data, size_t len) {
  Verdict v;
  // Without rules nothing needs a datagram's CoAP view, nor the requests a
  // response could answer: fleets without rules skip both.
  const Rule* rule = rules_.empty() ? nullptr : rules_.fire(rules_.classify(dir, data, len), rng_);
  if (rule != nullptr) v.rule = rule->name;
  std::string corruption;
  if (rule != nullptr && rule->action == Action::Drop) {
    v.fate = Fate::DroppedRule;
  } else if (std::optional<Fate> fate = blocked(now, dir, len)) {
    v.fate = *fate;
  } else {
    transmit(now, dir, data, len, rule, v);
    if (v.corrupted) corruption = corrupt(v.copies);
    if (dir == Direction::Uplink && hold_until_ > now) {
      for (Copy& c : v.copies) c.delay_ms += hold_until_ - now;
    }
  }
  pass_nat(now, dir, v);
  v.comment = comment(v, len, corruption);
  record(now, dir, len, v);
  return v;
}

// The deterministic states of the link, checked in the order a datagram
// meets them: the carrier's NAT (downlink), the partition, the sleeping
// receiver, the radio's frame size.
std::optional<Fate> Link::blocked(TimeMs now, Direction dir, size_t len) const {
  const bool up = dir == Direction::Uplink;
  if (!up && nat_expired(now)) return Fate::DroppedNat;
  for (const Partition& p : config_.partitions) {
    if ((up ? p.uplink : p.downlink) && within(now, p.start_ms, p.end_ms)) {
      return Fate::DroppedPartition;
    }
  }
  for (const SleepWindow& w : config_.sleeps) {
    if (!up && within(now, w.start_ms, w.end_ms)) return Fate::DroppedAsleep;
  }
  if (config_.mtu > 0 && len > static_cast<size_t>(config_.mtu)) return Fate::DroppedMtu;
  return std::nullopt;
}

bool Link::nat_expired(TimeMs now) const {
  if (!nat_.bound) return false;
  return nat_.expired || (config_.nat_idle_ms > 0 && now - nat_.last_ms > config_.nat_idle_ms);
}

// The binding lives while traffic crosses it: a delivered uplink opens or
// refreshes it (from a new port if it had expired), a downlink that found it
// refreshes it.
void Link::pass_nat(TimeMs now, Direction dir, Verdict& v) {
  if (dir == Direction::Downlink) {
    if (v.fate != Fate::DroppedNat && nat_.bound) nat_.last_ms = now;
    return;
  }
  if (v.fate != Fate::Delivered) return;
  v.nat_rebound = nat_expired(now);
  nat_ = Nat{true, false, now};
}

// Time until the datagram has left the sender: each direction sends one
// datagram at a time at bandwidth_bps, in microseconds to avoid drift.
TimeMs Link::serialize(TimeMs now, Direction dir, size_t len) {
  if (config_.bandwidth_bps <= 0) return 0;
  const int64_t bps = config_.bandwidth_bps;
  int64_t& busy = busy_until_us_[static_cast<int>(dir)];
  const int64_t now_us = now * 1000;
  const int64_t airtime_us = (static_cast<int64_t>(len) * 8 * 1000000 + bps - 1) / bps;
  busy = std::max(busy, now_us) + airtime_us;
  return (busy - now_us + 999) / 1000;
}

std::optional<Fate> Link::lose() {
  const GilbertElliott& b = config_.burst;
  if (b.enabled) {
    burst_bad_ = burst_bad_ ? !rng_.chance(b.p_bad_to_good) : rng_.chance(b.p_good_to_bad);
    if (rng_.chance(burst_bad_ ? b.loss_in_bad : b.loss_in_good)) return Fate::DroppedBurst;
  }
  if (rng_.chance(config_.loss)) return Fate::DroppedLoss;
  return std::nullopt;
}

// A datagram a rule fired on skips the random models: the rule, not chance,
// decides what happens to it. Serialization and the fixed delay still apply.
void Link::transmit(TimeMs now, Direction dir, const uint8_t* data, size_t len, const Rule* rule,
                    Verdict& v) {
  const TimeMs queued = serialize(now, dir, len);
  const bool random = rule == nullptr;
  if (random) {
    if (std::optional<Fate> lost = lose()) {
      v.fate = *lost;
      return;
    }
  }
  const auto ruled = [&](Action a) { return rule != nullptr && rule->action == a; };
  v.corrupted = len > 0 && (random ? rng_.chance(config_.corrupt) : ruled(Action::Corrupt));
  v.duplicated = random ? rng_.chance(config_.duplicate) : ruled(Action::Duplicate);
  v.reordered = random && rng_.chance(config_.reorder);
  TimeMs hold = ruled(Action::Delay) ? rule->delay_ms : 0;
  if (v.reordered) hold = config_.reorder_ms;
  for (int i = 0; i < (v.duplicated ? 2 : 1); ++i) {
    v.copies.push_back(Copy{queued + hold + propagation(random), {data, data + len}});
  }
}

TimeMs Link::propagation(bool random) {
  const TimeMs jitter = config_.jitter_ms;
  TimeMs delay = config_.delay_ms;
  if (random && jitter > 0) delay += static_cast<TimeMs>(rng_.below(2 * jitter + 1)) - jitter;
  return std::max<TimeMs>(delay, 0);
}

// Flips 1..3 distinct bits, the same in every copy (the corruption happened
// before the duplication). Bit i is byte i / 8, most significant bit first,
// the numbering Wireshark's byte view suggests.
std::string Link::corrupt(std::vector<Copy>& copies) {
  const uint64_t bits = copies[0].data.size() * 8;
  const uint64_t flips = 1 + rng_.below(3);
  std::vector<uint64_t> chosen;
  while (chosen.size() < flips) {
    const uint64_t bit = rng_.below(bits);
    if (std::find(chosen.begin(), chosen.end(), bit) == chosen.end()) chosen.push_back(bit);
  }
  std::sort(chosen.begin(), chosen.end());
  std::string out = "corrupted: bits ";
  for (uint64_t bit : chosen) {
    for (Copy& copy : copies) copy.data[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    out += (bit == chosen.front() ? "" : ", ") + std::to_string(bit);
  }
  return out;
}

std::string Link::comment(const Verdict& v, size_t len, const std::string& corruption) const {
  if (v.fate == Fate::DroppedRule) return "dropped by rule '" + v.rule + "'";
  if (v.fate == Fate::DroppedMtu) {
    return "dropped: " + std::to_string(len) + " B exceeds mtu " + std::to_string(config_.mtu);
  }
  if (v.fate != Fate::Delivered) return drop_reason(v.fate);
  std::vector<std::string> parts;
  if (v.copies[0].delay_ms > 0 || (v.duplicated && v.copies[1].delay_ms > 0)) {
    parts.push_back(delays(v.copies));
  }
  if (v.reordered) parts.push_back("reordered");
  if (v.duplicated) parts.push_back("duplicated");
  if (!corruption.empty()) parts.push_back(corruption);
  if (v.nat_rebound) parts.push_back("NAT rebound to a new source port");
  const std::string effects = parts.empty() ? "passed" : join(parts);
  return v.rule.empty() ? effects : "rule '" + v.rule + "': " + effects;
}

void Link::record(TimeMs now, Direction dir, size_t len, const Verdict& v) {
  count_effects(count_fate(dir == Direction::Uplink ? uplink_ : downlink_, v.fate), v);
  const size_t copies = std::min<size_t>(v.copies.size(), 2);
  Decision d{now, static_cast<uint16_t>(std::min<size_t>(len, UINT16_MAX)),
             static_cast<uint8_t>(static_cast<int>(dir) << 4 | static_cast<int>(v.fate)), 0, 0};
  d.flags = (v.corrupted ? kCorrupt : 0) | (v.reordered ? kReorder : 0) |
            (v.nat_rebound ? kNat : 0) | static_cast<uint8_t>(copies << kCopiesShift);
  if (std::any_of(v.copies.begin(), v.copies.begin() + copies,
                  [](const Copy& c) { return c.delay_ms != 0; })) {
    Delays delays{{0, 0}};
    for (size_t i = 0; i < copies; ++i)
      delays.delay_ms[i] = static_cast<int32_t>(v.copies[i].delay_ms);
    delays_.push_back(delays);
    d.flags |= kDelays;
  }
  if (!v.rule.empty()) {
    auto it = std::find(rule_names_.begin(), rule_names_.end(), v.rule);
    if (it == rule_names_.end()) it = rule_names_.insert(it, v.rule);
    d.rule = static_cast<uint16_t>(it - rule_names_.begin() + 1);
  }
  decisions_.push_back(d);
}

DirectionCounters& DirectionCounters::operator+=(const DirectionCounters& c) {
  sent += c.sent;
  delivered += c.delivered;
  dropped += c.dropped;
  dropped_loss += c.dropped_loss;
  dropped_burst += c.dropped_burst;
  dropped_partition += c.dropped_partition;
  dropped_asleep += c.dropped_asleep;
  dropped_mtu += c.dropped_mtu;
  dropped_rule += c.dropped_rule;
  dropped_nat += c.dropped_nat;
  duplicated += c.duplicated;
  corrupted += c.corrupted;
  delayed += c.delayed;
  reordered += c.reordered;
  nat_rebinds += c.nat_rebinds;
  return *this;
}

LinkCounters Link::counters() const {
  LinkCounters c{uplink_, uplink_, downlink_};
  c.total += downlink_;
  return c;
}

std::vector<std::string> Link::decisions() const {
  std::vector<std::string> out;
  out.reserve(decisions_.size());
  auto delays = delays_.begin();
  for (size_t i = 0; i < decisions_.size(); ++i) {
    const Decision& d = decisions_[i];
    const auto dir = static_cast<Direction>(d.dir_fate >> 4);
    const auto fate = static_cast<Fate>(d.dir_fate & 0xf);
    std::string line = std::to_string(d.time) + " " + to_string(dir) + " " + std::to_string(d.len) +
                       "B " + to_string(fate);
    const bool delayed = d.flags & kDelays;
    for (int c = 0; c < (d.flags >> kCopiesShift & 3); ++c)
      line += "+" + std::to_string(delayed ? delays->delay_ms[c] : 0) + "ms";
    if (delayed) ++delays;
    if (d.flags & kCorrupt) line += " corrupt";
    if (d.flags & kReorder) line += " reorder";
    if (d.flags & kNat) line += " nat";
    if (d.rule > 0) line += " rule=" + rule_names_[d.rule - 1];
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace hil::radio
