#include "flash_file.h"

#include <vector>

#include "board.h"

namespace fw {
namespace {

std::string g_error;

class Mirror final : public hil::flash::ImageObserver {
 public:
  Mirror(hil::flash::NorFlash& flash, int handle) : flash_(flash), handle_(handle) {}
  ~Mirror() override {
    flash_.set_observer(nullptr);
    sh_close(handle_);
  }

  void on_image_changed(uint32_t addr, uint32_t len) override {
    const uint8_t* bytes = flash_.image().data() + addr;
    if ((sh_seek(handle_, addr) != 0 || sh_write(handle_, bytes, len) != 0) && g_error.empty())
      g_error = "cannot write the flash image at " + std::to_string(addr);
  }

 private:
  hil::flash::NorFlash& flash_;
  int handle_;
};

// Loads an existing image of the flash's size; an empty file is a new chip.
hil::Status load(int handle, const std::string& path, hil::flash::NorFlash& flash) {
  const uint32_t size = flash.geometry().size;
  int len = sh_flen(handle);
  if (len == 0) return hil::ok_status();
  if (len != static_cast<int>(size))
    return hil::Error{hil::ErrorCode::kInvalidArgument,
                      "flash image " + path + " is " + std::to_string(len) +
                          " bytes but the flash is " + std::to_string(size)};
  std::vector<uint8_t> image(size);
  if (sh_seek(handle, 0) != 0 || sh_read(handle, image.data(), size) != 0)
    return hil::Error{hil::ErrorCode::kIo, "cannot read flash image " + path};
  (void)flash.load_image(image.data(), image.size());
  return hil::ok_status();
}

}  // namespace

hil::Result<std::unique_ptr<hil::flash::ImageObserver>> open_flash_file(
    const std::string& path, hil::flash::NorFlash& flash) {
  int h = sh_open(path.c_str(), SH_OPEN_RPLUSB);
  if (h >= 0) {
    if (hil::Status st = load(h, path, flash); !st) {
      sh_close(h);
      return st.error();
    }
  } else {
    h = sh_open(path.c_str(), SH_OPEN_WPLUSB);
    if (h < 0) return hil::Error{hil::ErrorCode::kIo, "cannot create flash image " + path};
  }
  auto mirror = std::make_unique<Mirror>(flash, h);
  const uint32_t size = flash.geometry().size;
  if (sh_flen(h) != static_cast<int>(size)) mirror->on_image_changed(0, size);
  if (!g_error.empty()) return hil::Error{hil::ErrorCode::kIo, g_error};
  flash.set_observer(mirror.get());
  return std::unique_ptr<hil::flash::ImageObserver>(std::move(mirror));
}

const std::string& flash_file_error() { return g_error; }

}  // namespace fw
