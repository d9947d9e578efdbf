// Host only: the flash image as a file that outlives the process.
//
// The file holds the raw bytes, byte for byte (inspect it with xxd, or start
// a device from one). Opening loads an existing image of the right size into
// the model, or creates the file from the model's current bytes. After that
// every change of the model reaches the file: at once (kWriteThrough, so a
// killed process leaves the image as the flash was) or at sync().
// Kept apart from the model so the model and the store stay firmware-clean.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "emulator/base/result.h"
#include "emulator/flash/nor_flash.h"

namespace hil::flash {

enum class FileSync {
  kWriteThrough,  // pwrite after every program, erase and bit flip
  kOnSync,        // remember the changed range; write it at sync() and on destruction
};

class FileImage final : public ImageObserver {
 public:
  // Errors: kIo (the file cannot be opened, created, read or written),
  // kInvalidArgument (it exists with a size other than the flash's).
  static Result<std::unique_ptr<FileImage>> open(const std::string& path, NorFlash& flash,
                                                 FileSync mode = FileSync::kWriteThrough);
  ~FileImage() override;
  FileImage(const FileImage&) = delete;
  FileImage& operator=(const FileImage&) = delete;

  // Writes what is not yet in the file. Errors: kIo (a failed write, now or
  // earlier in write-through mode).
  Status sync();
  const std::string& path() const { return path_; }

  void on_image_changed(uint32_t addr, uint32_t len) override;

 private:
  FileImage(std::string path, int fd, NorFlash& flash, FileSync mode);
  Status write_range(uint32_t addr, uint32_t len);

  std::string path_;
  int fd_;
  NorFlash& flash_;
  FileSync mode_;
  uint32_t dirty_begin_ = 0;
  uint32_t dirty_end_ = 0;  // empty when equal to dirty_begin_
  std::string error_;       // first failed write-through, reported by sync()
};

}  // namespace hil::flash
