// A device's persistent storage: the NOR flash model, optionally mirrored in
// an image file, and the configuration on it (stored_config.h), with the
// emulator's own check that no boot finds a torn configuration. It outlives
// reboots and power cuts, as a chip does; the device's RAM does not.
// Firmware-clean: native devices and the firmware image both keep their
// configuration in this class; only how an image file is opened differs
// (ImageOpener).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/flash/nor_flash.h"
#include "emulator/storage/stored_config.h"

namespace hil::storage {

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

// Opens the image file at `path` for `flash`: loads an image of the right
// size into the model (or writes the model's bytes to a new file), and
// returns the flash's observer (set_observer) that writes every later
// change through to the file; it unsets itself when destroyed. The host's
// is flash::FileImage, the firmware's a semihosting file.
using ImageOpener = Result<std::unique_ptr<flash::ImageObserver>> (*)(const std::string& path,
                                                                      flash::NorFlash& flash);

class Storage {
 public:
  // `open_image` opens config.image_path, if set. Errors: kInvalidArgument
  // (a bad geometry, an image file of another size), kUnsupported (an image
  // path and no way to open it), the opener's (kIo).
  static Result<std::unique_ptr<Storage>> open(const FlashConfig& config,
                                               const lwm2m::ObjectTree& factory,
                                               ImageOpener open_image = nullptr);

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
  std::unique_ptr<flash::ImageObserver> image_;  // declared after flash_: goes first
  std::unique_ptr<StoredConfig> config_;
  // The emulator's own bookkeeping, not the device's RAM: what a boot may
  // legally find.
  std::optional<std::vector<uint8_t>> committed_, attempted_;
  int torn_configs_ = 0;
  std::vector<Event> notes_;
};

}  // namespace hil::storage
