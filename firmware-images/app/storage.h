// The image's persistent storage: the same NOR flash model and the same
// configuration on it as the emulator's native devices
// (emulator/device/stored_config.h), mirrored into an image file on the
// host through semihosting. The emulator-side bookkeeping (torn
// configurations) is the host's business, from the image file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/device/stored_config.h"
#include "emulator/flash/nor_flash.h"

namespace fw {

class Storage {
 public:
  // Errors: kInvalidArgument (a bad geometry, an image file of another
  // size), kIo (an image file that cannot be used). Arms the power cut of
  // `args`.
  static hil::Result<std::unique_ptr<Storage>> open(const Args& args,
                                                    const hil::lwm2m::ObjectTree& factory);
  ~Storage();

  // The configuration on the flash: boot, commit, take_events.
  hil::device::StoredConfig& config() { return *config_; }
  hil::flash::NorFlash& flash() { return flash_; }
  // The first failed write of the image file, if any.
  const std::string& image_error() const { return image_error_; }

 private:
  class Mirror;
  explicit Storage(const Args& args);

  hil::flash::NorFlash flash_;
  std::unique_ptr<hil::device::StoredConfig> config_;
  std::unique_ptr<Mirror> mirror_;
  std::string image_error_;
};

}  // namespace fw
