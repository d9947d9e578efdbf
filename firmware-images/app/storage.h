// The image's persistent storage: the same NOR flash model and
// configuration store as the emulator's native devices (emulator/flash),
// mirrored into an image file on the host through semihosting, and the
// same encoding of objects 0 and 1 (lwm2m::tree). Mirrors
// emulator/device/storage.cc; the emulator-side bookkeeping (torn
// configurations) is the host's business, from the image file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/flash/config_store.h"
#include "emulator/flash/nor_flash.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace fw {

class Storage {
 public:
  // Errors: a bad geometry, an image file that cannot be used. Arms the
  // power cut of `args`.
  static hil::Result<std::unique_ptr<Storage>> open(const Args& args,
                                                    const hil::lwm2m::ObjectTree& factory);
  ~Storage();

  // Mount, write the factory image on a blank chip, count the boot, and
  // return the last committed configuration.
  hil::Result<hil::lwm2m::ObjectTree> boot();
  // Durable before acknowledged: ok only once the commit landed whole.
  hil::Status commit(const hil::lwm2m::ObjectTree& config);

  hil::flash::NorFlash& flash() { return flash_; }
  hil::flash::ConfigStore& store() { return store_; }
  // Flash faults and store findings since the last call, unstamped.
  std::vector<hil::Event> take_events();
  // The first failed write of the image file, if any.
  const std::string& image_error() const { return image_error_; }

 private:
  class Mirror;
  explicit Storage(const Args& args);

  hil::flash::NorFlash flash_;
  hil::flash::ConfigStore store_;
  std::unique_ptr<Mirror> mirror_;
  std::vector<uint8_t> factory_payload_;
  std::vector<hil::Event> notes_;
  std::string image_error_;
};

}  // namespace fw
