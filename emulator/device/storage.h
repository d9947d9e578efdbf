// A device's persistent storage: the NOR flash model (optionally backed by an
// image file) and the configuration on it (stored_config.h), with the
// emulator's own check that no boot finds a torn configuration. It outlives
// reboots and power cuts, as a chip does; the device's RAM does not.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/device/stored_config.h"
#include "emulator/flash/file_image.h"
#include "emulator/flash/nor_flash.h"

namespace hil::device {

struct FlashConfig {
  // Two 4 KiB sectors: the smallest the store works on, since fleets hold
  // one image per device in memory.
  flash::Geometry geometry{8 * 1024, 4 * 1024, 256};
  flash::ViolationPolicy on_violation = flash::ViolationPolicy::kAnd;
  uint32_t endurance = 100'000;  // erases per sector; 0: unlimited
  std::string image_path;        // empty: in memory only
  uint64_t seed = 1;             // torn bits, random cuts and flips
  // Time each operation keeps the device busy; its answers leave later.
  uint32_t program_latency_us = 0;
  uint32_t erase_latency_us = 0;
};

// Errors: kInvalidArgument naming the field (a geometry the model refuses,
// fewer than the two sectors the store needs).
Status validate(const FlashConfig& config);

class Storage {
 public:
  // Errors: kInvalidArgument (a bad geometry, an image file of another
  // size), kIo (an image file that cannot be used).
  static Result<std::unique_ptr<Storage>> open(const FlashConfig& config,
                                               lwm2m::ObjectTree factory);

  // StoredConfig::boot() (and its errors), and the torn-configuration check.
  Result<lwm2m::ObjectTree> boot();
  // Durable before acknowledged: ok only once the commit landed whole.
  // Errors: kPowerLost (a power cut), ConfigStore::commit()'s others.
  Status commit(const lwm2m::ObjectTree& config);
  Status factory_reset();

  flash::NorFlash& flash() { return *flash_; }
  flash::ConfigStore& store() { return config_->store(); }
  // Flash faults and store findings since the last call, unstamped.
  std::vector<Event> take_events();
  // Boots that found neither the configuration committed last nor the one
  // being committed when the power went: must stay 0.
  int torn_configs() const { return torn_configs_; }

 private:
  explicit Storage(const FlashConfig& config);

  std::unique_ptr<flash::NorFlash> flash_;
  std::unique_ptr<flash::FileImage> image_;
  std::unique_ptr<StoredConfig> config_;
  // The emulator's own bookkeeping, not the device's RAM: what a boot may
  // legally find.
  std::optional<std::vector<uint8_t>> committed_, attempted_;
  int torn_configs_ = 0;
  std::vector<Event> notes_;
};

}  // namespace hil::device
