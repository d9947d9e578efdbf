#include "emulator/flash/file_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace hil::flash {
namespace {

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

Result<std::unique_ptr<FileImage>> FileImage::open(const std::string& path, NorFlash& flash,
                                                   FileSync mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::kIo, sys_error("cannot open flash image", path)};
  std::unique_ptr<FileImage> image(new FileImage(path, fd, flash, mode));
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Error{ErrorCode::kIo, sys_error("cannot stat flash image", path)};
  const uint32_t size = flash.geometry().size;
  if (st.st_size == 0) {
    HIL_TRY(image->write_range(0, size));
  } else if (static_cast<uint64_t>(st.st_size) != size) {
    return Error{ErrorCode::kInvalidArgument,
                 "flash image " + path + " is " + std::to_string(st.st_size) +
                     " bytes but the flash is " + std::to_string(size) +
                     "; use the geometry it was made with, or delete it"};
  } else {
    std::vector<uint8_t> bytes(size);
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::pread(fd, bytes.data() + done, size - done, static_cast<off_t>(done));
      if (n <= 0) return Error{ErrorCode::kIo, sys_error("cannot read flash image", path)};
      done += static_cast<size_t>(n);
    }
    HIL_TRY(flash.load_image(bytes.data(), bytes.size()));
  }
  flash.set_observer(image.get());
  return image;
}

FileImage::FileImage(std::string path, int fd, NorFlash& flash, FileSync mode)
    : path_(std::move(path)), fd_(fd), flash_(flash), mode_(mode) {}

FileImage::~FileImage() {
  flash_.set_observer(nullptr);
  (void)sync();
  ::close(fd_);
}

void FileImage::on_image_changed(uint32_t addr, uint32_t len) {
  if (mode_ == FileSync::kWriteThrough) {
    Status s = write_range(addr, len);
    if (!s && error_.empty()) error_ = s.error().message;
    return;
  }
  if (dirty_begin_ == dirty_end_) {
    dirty_begin_ = addr;
    dirty_end_ = addr + len;
  } else {
    dirty_begin_ = std::min(dirty_begin_, addr);
    dirty_end_ = std::max(dirty_end_, addr + len);
  }
}

Status FileImage::sync() {
  if (dirty_begin_ != dirty_end_) {
    HIL_TRY(write_range(dirty_begin_, dirty_end_ - dirty_begin_));
    dirty_begin_ = dirty_end_ = 0;
  }
  if (!error_.empty()) return Error{ErrorCode::kIo, std::exchange(error_, {})};
  return ok_status();
}

Status FileImage::write_range(uint32_t addr, uint32_t len) {
  const uint8_t* bytes = flash_.image().data() + addr;
  for (size_t done = 0; done < len;) {
    const ssize_t n = ::pwrite(fd_, bytes + done, len - done, static_cast<off_t>(addr + done));
    if (n <= 0) return Error{ErrorCode::kIo, sys_error("cannot write flash image", path_)};
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

}  // namespace hil::flash
