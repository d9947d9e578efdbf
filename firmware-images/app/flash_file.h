// The flash image as a file on the host, through semihosting: the image's
// storage::ImageOpener, as flash::FileImage (kWriteThrough) is the
// emulator's. Opening loads a file of the flash's size into the model (an
// empty or new file gets the model's bytes); every program and erase then
// reaches the file at once, so when the model tears an operation and the
// image exits, the file holds the torn bytes.
#pragma once

#include <memory>
#include <string>

#include "emulator/base/result.h"
#include "emulator/flash/nor_flash.h"

namespace fw {

// Errors: kInvalidArgument (a file of another size), kIo (it cannot be
// created, read or written).
hil::Result<std::unique_ptr<hil::flash::ImageObserver>> open_flash_file(
    const std::string& path, hil::flash::NorFlash& flash);
// The first failed write to the file since boot; empty while all landed.
const std::string& flash_file_error();

}  // namespace fw
