#include "emulator/flash/nor_flash.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace hil::flash {
namespace {

std::string hex(uint32_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const uint32_t d = (v >> shift) & 0xF;
    if (d || started || shift == 0) {
      s += kDigits[d];
      started = true;
    }
  }
  return s;
}

}  // namespace

NorFlash::NorFlash(const NorFlashOptions& options)
    : options_(options), rng_(options.seed ^ 0x9E3779B97F4A7C15ull) {
  if (!validate(options_.geometry).ok()) options_.geometry = Geometry{};
  image_.assign(options_.geometry.size, 0xFF);
  erase_counts_.assign(options_.geometry.sectors(), 0);
}

Status NorFlash::validate(const Geometry& g) {
  if (g.size == 0 || g.sector_size == 0 || g.page_size == 0) {
    return Error{ErrorCode::kInvalidArgument,
                 "flash geometry needs a non-zero size, sector size and page size"};
  }
  if (g.size % g.sector_size != 0) {
    return Error{ErrorCode::kInvalidArgument, "flash size " + std::to_string(g.size) +
                                                  " is not a multiple of the sector size " +
                                                  std::to_string(g.sector_size)};
  }
  if (g.sector_size % g.page_size != 0) {
    return Error{ErrorCode::kInvalidArgument, "sector size " + std::to_string(g.sector_size) +
                                                  " is not a multiple of the page size " +
                                                  std::to_string(g.page_size)};
  }
  return ok_status();
}

Status NorFlash::check_range(uint32_t addr, size_t len) const {
  if (addr > image_.size() || len > image_.size() - addr) {
    return Error{ErrorCode::kInvalidArgument, "flash access " + hex(addr) + "+" +
                                                  std::to_string(len) + " is outside the flash (" +
                                                  std::to_string(image_.size()) + " bytes)"};
  }
  return ok_status();
}

Status NorFlash::read(uint32_t addr, uint8_t* out, size_t len) {
  if (!powered_) return Error{ErrorCode::kPowerLost, "power lost: read refused until power_on()"};
  HIL_TRY(check_range(addr, len));
  if (len) std::memcpy(out, image_.data() + addr, len);
  return ok_status();
}

std::optional<NorFlash::CutPoint> NorFlash::begin_op(uint32_t len) {
  const uint64_t op = ops_++;
  if (!cut_ || cut_->op != op) return std::nullopt;
  if (cut_->random_byte)
    return CutPoint{false, static_cast<uint32_t>(next_random() % (len + 1ull))};
  if (!cut_->byte) return CutPoint{true, 0};
  return CutPoint{false, *cut_->byte};
}

Status NorFlash::program(uint32_t addr, const uint8_t* data, size_t len) {
  if (!powered_)
    return Error{ErrorCode::kPowerLost, "power lost: program refused until power_on()"};
  HIL_TRY(check_range(addr, len));
  const uint32_t page = options_.geometry.page_size;
  if (len && addr / page != (addr + len - 1) / page) {
    return Error{ErrorCode::kInvalidArgument, "program " + hex(addr) + "+" + std::to_string(len) +
                                                  " crosses a " + std::to_string(page) +
                                                  "-byte page boundary; split it"};
  }
  size_t setting = 0;  // bytes where the program would turn a 0 into a 1
  for (size_t i = 0; i < len; ++i) setting += (data[i] & ~image_[addr + i]) != 0;
  if (setting) {
    ++counters_.violations;
    event("flash_violation", "program " + hex(addr) + "+" + std::to_string(len) +
                                 " would set bits in " + std::to_string(setting) + " bytes");
    if (options_.on_violation == ViolationPolicy::kError) {
      return Error{ErrorCode::kFailedPrecondition,
                   "program " + hex(addr) + "+" + std::to_string(len) +
                       " would set bits that only an erase sets (violation recorded)"};
    }
  }
  const std::optional<CutPoint> cut = begin_op(static_cast<uint32_t>(len));
  if (cut && cut->before) {
    lose_power("before program", addr, static_cast<uint32_t>(len), 0);
    return Error{ErrorCode::kPowerLost, std::string("power lost ") + "before program " + hex(addr)};
  }
  busy_us_ += options_.program_latency_us;
  ++counters_.programs;
  const size_t done = cut ? std::min<size_t>(cut->at, len) : len;
  for (size_t i = 0; i < done; ++i) image_[addr + i] &= data[i];
  if (done < len) tear_byte(addr + done, image_[addr + done] & data[done]);
  counters_.bytes_programmed += done;
  changed(addr, static_cast<uint32_t>(len));
  if (cut) {
    lose_power("in program", addr, static_cast<uint32_t>(len), cut->at);
    return Error{ErrorCode::kPowerLost, std::string("power lost ") + "in program " + hex(addr) +
                                            " at byte " + std::to_string(cut->at)};
  }
  return ok_status();
}

Status NorFlash::erase(uint32_t sector) {
  if (!powered_) return Error{ErrorCode::kPowerLost, "power lost: erase refused until power_on()"};
  if (sector >= erase_counts_.size()) {
    return Error{ErrorCode::kInvalidArgument, "no sector " + std::to_string(sector) +
                                                  " (the flash has " +
                                                  std::to_string(erase_counts_.size()) + ")"};
  }
  const uint32_t size = options_.geometry.sector_size;
  const uint32_t base = sector * size;
  const std::optional<CutPoint> cut = begin_op(size);
  if (cut && cut->before) {
    lose_power("before erase", base, size, 0);
    return Error{ErrorCode::kPowerLost,
                 std::string("power lost ") + "before erase of sector " + std::to_string(sector)};
  }
  busy_us_ += options_.erase_latency_us;
  ++counters_.erases;
  const uint32_t count = ++erase_counts_[sector];
  // Erase is modelled as a sweep from the sector's start, so a cut leaves a
  // prefix erased and the rest as it was; README says why that is enough.
  const uint32_t done = cut ? std::min(cut->at, size) : size;
  std::memset(image_.data() + base, 0xFF, done);
  if (done < size) tear_byte(base + done, 0xFF);
  if (options_.endurance && count > options_.endurance) {
    // Worn cells no longer erase reliably: about one byte in 16 keeps a bit at 0.
    ++counters_.worn_erases;
    uint32_t stuck = 0;
    for (uint32_t i = 0; i < done; ++i) {
      if (next_random() % 16 == 0) {
        image_[base + i] &= static_cast<uint8_t>(~(1u << (next_random() % 8)));
        ++stuck;
      }
    }
    event("flash_worn_erase", "sector " + std::to_string(sector) + " erase " +
                                  std::to_string(count) + " is past its endurance of " +
                                  std::to_string(options_.endurance) + ": " +
                                  std::to_string(stuck) + " bytes kept a 0 bit");
  }
  changed(base, size);
  if (cut) {
    lose_power("in erase", base, size, cut->at);
    return Error{ErrorCode::kPowerLost, std::string("power lost ") + "in erase of sector " +
                                            std::to_string(sector) + " at byte " +
                                            std::to_string(cut->at)};
  }
  return ok_status();
}

void NorFlash::tear_byte(uint32_t i, uint8_t target) {
  const uint8_t differing = image_[i] ^ target;
  const uint8_t landed = differing & static_cast<uint8_t>(next_random());
  image_[i] ^= landed;
}

void NorFlash::lose_power(const char* what, uint32_t addr, uint32_t len, uint32_t at) {
  powered_ = false;
  cut_.reset();
  ++counters_.power_cuts;
  event("flash_power_cut", std::string(what) + " " + hex(addr) + "+" + std::to_string(len) +
                               " (op " + std::to_string(ops_ - 1) + ", byte " + std::to_string(at) +
                               ")");
}

Status NorFlash::load_image(const uint8_t* data, size_t len) {
  if (len != image_.size()) {
    return Error{
        ErrorCode::kInvalidArgument,
        "image is " + std::to_string(len) + " bytes, the flash " + std::to_string(image_.size())};
  }
  if (len) std::memcpy(image_.data(), data, len);
  return ok_status();
}

void NorFlash::arm_power_cut(uint64_t op, std::optional<uint32_t> byte_offset) {
  cut_ = Cut{op, byte_offset, false};
}

void NorFlash::arm_random_power_cut(uint64_t within_ops, std::optional<uint64_t> seed) {
  if (within_ops == 0) return;
  if (seed) rng_ = *seed ^ 0x9E3779B97F4A7C15ull;
  cut_ = Cut{ops_ + next_random() % within_ops, std::nullopt, true};
}

void NorFlash::cut_power() {
  powered_ = false;
  cut_.reset();
  ++counters_.power_cuts;
  event("flash_power_cut", "between operations (before op " + std::to_string(ops_) + ")");
}

void NorFlash::power_on() { powered_ = true; }

Status NorFlash::flip_bit(uint32_t addr, uint8_t bit) {
  HIL_TRY(check_range(addr, 1));
  if (bit > 7)
    return Error{ErrorCode::kInvalidArgument,
                 "bit " + std::to_string(bit) + " is not in a byte (0..7)"};
  image_[addr] ^= static_cast<uint8_t>(1u << bit);
  ++counters_.bit_flips;
  event("flash_bit_flip", "bit " + std::to_string(bit) + " of " + hex(addr));
  changed(addr, 1);
  return ok_status();
}

Status NorFlash::flip_random_bits(uint32_t addr, uint32_t len, uint32_t count) {
  HIL_TRY(check_range(addr, len));
  if (len == 0 && count) return Error{ErrorCode::kInvalidArgument, "no bytes to flip bits in"};
  for (uint32_t n = 0; n < count; ++n) {
    HIL_TRY(flip_bit(addr + static_cast<uint32_t>(next_random() % len),
                     static_cast<uint8_t>(next_random() % 8)));
  }
  return ok_status();
}

Status NorFlash::wear_out(uint32_t sector) {
  if (sector >= erase_counts_.size())
    return Error{ErrorCode::kInvalidArgument, "no sector " + std::to_string(sector)};
  if (!options_.endurance)
    return Error{ErrorCode::kFailedPrecondition,
                 "endurance is unlimited; set NorFlashOptions::endurance"};
  if (erase_counts_[sector] < options_.endurance) erase_counts_[sector] = options_.endurance;
  return ok_status();
}

uint64_t NorFlash::take_busy_us() { return std::exchange(busy_us_, 0); }

std::vector<Event> NorFlash::take_events() { return std::exchange(events_, {}); }

void NorFlash::changed(uint32_t addr, uint32_t len) {
  if (observer_) observer_->on_image_changed(addr, len);
}

void NorFlash::event(const char* kind, std::string detail) {
  events_.push_back(Event{0, kind, std::move(detail)});
}

uint64_t NorFlash::next_random() {
  // splitmix64: tiny, seedable, and the same on every platform.
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace hil::flash
