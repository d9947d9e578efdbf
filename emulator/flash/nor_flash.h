// A NOR flash: the raw device the configuration store sits on.
//
// `Flash` is the interface the store needs (Pigweed's FlashMemory idea): the
// emulator gives it a `NorFlash` model, firmware a driver for its real chip.
// `NorFlash` keeps the image in RAM, enforces NOR rules (erase sets a sector
// to 0xFF, a program only clears bits, a program stays inside one page), counts
// wear, and injects faults: power cuts at an operation or at a byte inside one,
// bit flips, worn-out sectors. No clock, file or thread: firmware-clean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/result.h"

namespace hil::flash {

struct Geometry {
  uint32_t size = 0;         // bytes; a multiple of sector_size
  uint32_t sector_size = 0;  // erase unit; a multiple of page_size
  uint32_t page_size = 0;    // program unit: one program never crosses a page boundary

  uint32_t sectors() const { return sector_size ? size / sector_size : 0; }
};

class Flash {
 public:
  virtual ~Flash() = default;
  virtual const Geometry& geometry() const = 0;
  // Errors: kInvalidArgument (out of range), kPowerLost.
  virtual Status read(uint32_t addr, uint8_t* out, size_t len) = 0;
  // Errors: kInvalidArgument (out of range, crosses a page boundary),
  // kPowerLost, and what the implementation says about setting a bit
  // (NorFlash: kFailedPrecondition under ViolationPolicy::kError).
  virtual Status program(uint32_t addr, const uint8_t* data, size_t len) = 0;
  // Errors: kInvalidArgument (no such sector), kPowerLost.
  virtual Status erase(uint32_t sector) = 0;
};

// What a program that would turn a 0 bit into 1 does. Either way it is
// recorded as a violation and reported as an event.
enum class ViolationPolicy {
  kAnd,    // like real chips: the cell keeps the AND of old and new, the call succeeds
  kError,  // refuse the whole program, nothing written; catches store bugs early
};

struct NorFlashOptions {
  Geometry geometry;
  ViolationPolicy on_violation = ViolationPolicy::kAnd;
  // Erases a sector survives; the erases after that leave stuck-at-0 bits
  // (see README). 0: unlimited.
  uint32_t endurance = 100000;
  uint64_t seed = 1;  // torn bits, random bit flips, worn-out bits, random cuts
  // Charged per operation to take_busy_us(); the model never sleeps.
  uint32_t program_latency_us = 0;
  uint32_t erase_latency_us = 0;
};

struct NorCounters {
  uint64_t programs = 0;  // program calls that reached the array (including a torn one)
  uint64_t erases = 0;
  uint64_t bytes_programmed = 0;
  uint64_t violations = 0;
  uint64_t power_cuts = 0;
  uint64_t bit_flips = 0;
  uint64_t worn_erases = 0;  // erases of a sector past its endurance
};

// Told about every change of the image so a host adapter can mirror it
// (emulator/flash/file_image.h). Called after the bytes changed.
class ImageObserver {
 public:
  virtual ~ImageObserver() = default;
  virtual void on_image_changed(uint32_t addr, uint32_t len) = 0;
};

class NorFlash final : public Flash {
 public:
  // A fresh chip: every byte 0xFF, every erase count 0. Check
  // validate(options.geometry) first; an invalid geometry gives an empty flash.
  explicit NorFlash(const NorFlashOptions& options);

  // Errors: kInvalidArgument (a zero size, size not a multiple of
  // sector_size, sector_size not a multiple of page_size).
  static Status validate(const Geometry& g);

  const Geometry& geometry() const override { return options_.geometry; }
  Status read(uint32_t addr, uint8_t* out, size_t len) override;
  Status program(uint32_t addr, const uint8_t* data, size_t len) override;
  Status erase(uint32_t sector) override;

  // The raw image, and starting from an existing one (size must match, else
  // kInvalidArgument).
  const std::vector<uint8_t>& image() const { return image_; }
  Status load_image(const uint8_t* data, size_t len);
  void set_observer(ImageObserver* observer) { observer_ = observer; }

  // Power. Operations are numbered from 0 over the chip's life (ops() is the
  // next one's number); reads are not operations. A cut at operation `op`
  // with no byte offset lands before it: nothing of it happens. With offset
  // K: bytes before K complete, byte K gets a seeded random subset of its bit
  // changes, bytes after K are untouched; K >= the op's length means it all
  // landed but the caller never heard back. Either way the op and every one
  // after it fail with kPowerLost until power_on().
  void arm_power_cut(uint64_t op, std::optional<uint32_t> byte_offset = std::nullopt);
  // A seeded random op in [ops(), ops() + within_ops) and a random byte in it.
  // With `seed`, the flash's random generator restarts from it first: the
  // seed alone decides where the cut lands and which bits of the torn byte
  // made it.
  void arm_random_power_cut(uint64_t within_ops, std::optional<uint64_t> seed = std::nullopt);
  void disarm_power_cut() { cut_.reset(); }
  void cut_power();  // now, between operations
  void power_on();
  bool powered() const { return powered_; }
  uint64_t ops() const { return ops_; }

  // Faults that change stored bits without an operation. Errors:
  // kInvalidArgument (outside the flash, bit > 7, no bytes).
  Status flip_bit(uint32_t addr, uint8_t bit);
  // `count` seeded random bits inside [addr, addr + len).
  Status flip_random_bits(uint32_t addr, uint32_t len, uint32_t count);
  // The sector's next erase is past its endurance. Errors: kInvalidArgument
  // (no such sector), kFailedPrecondition (endurance is unlimited).
  Status wear_out(uint32_t sector);

  const NorCounters& counters() const { return counters_; }
  const std::vector<uint32_t>& erase_counts() const { return erase_counts_; }
  // Latency of the operations since the last call, for the caller's clock.
  uint64_t take_busy_us();
  // Faults that fired since the last call (kinds "flash_power_cut",
  // "flash_violation", "flash_bit_flip", "flash_worn_erase"); time_ms is 0:
  // the caller stamps its own clock.
  std::vector<Event> take_events();

 private:
  struct Cut {
    uint64_t op = 0;
    std::optional<uint32_t> byte;
    bool random_byte = false;
  };

  // Where a pending cut lands in the operation that starts now.
  struct CutPoint {
    bool before = false;  // nothing of the op happens
    uint32_t at = 0;      // else bytes before `at` land, byte `at` is torn
  };

  Status check_range(uint32_t addr, size_t len) const;
  // Consumes an operation number.
  std::optional<CutPoint> begin_op(uint32_t len);
  void lose_power(const char* what, uint32_t addr, uint32_t len, uint32_t at);
  // Moves image_[i] towards `target` for a random subset of the differing bits.
  void tear_byte(uint32_t i, uint8_t target);
  void changed(uint32_t addr, uint32_t len);
  void event(const char* kind, std::string detail);
  uint64_t next_random();

  NorFlashOptions options_;
  std::vector<uint8_t> image_;
  std::vector<uint32_t> erase_counts_;
  NorCounters counters_;
  std::optional<Cut> cut_;
  bool powered_ = true;
  uint64_t ops_ = 0;
  uint64_t busy_us_ = 0;
  uint64_t rng_;
  std::vector<Event> events_;
  ImageObserver* observer_ = nullptr;
};

}  // namespace hil::flash
