#include "storage.h"

#include "board.h"

namespace fw {

// Writes every change of the model through to the image file at once, as
// emulator/flash/file_image.cc (kWriteThrough) does on the host: when the
// model tears an operation and the image exits, the file holds the torn
// bytes.
class Storage::Mirror final : public hil::flash::ImageObserver {
 public:
  Mirror(Storage& owner, int handle) : owner_(owner), handle_(handle) {}
  ~Mirror() override { sh_close(handle_); }

  void on_image_changed(uint32_t addr, uint32_t len) override {
    const uint8_t* bytes = owner_.flash_.image().data() + addr;
    if (sh_seek(handle_, addr) != 0 || sh_write(handle_, bytes, len) != 0) {
      if (owner_.image_error_.empty())
        owner_.image_error_ = "cannot write the flash image at " + std::to_string(addr);
    }
  }

 private:
  Storage& owner_;
  int handle_;
};

Storage::Storage(const Args& args)
    : flash_(hil::flash::NorFlashOptions{args.geometry, args.on_violation, args.endurance,
                                         args.flash_seed, 0, 0}) {}

Storage::~Storage() { flash_.set_observer(nullptr); }

hil::Result<std::unique_ptr<Storage>> Storage::open(const Args& args,
                                                    const hil::lwm2m::ObjectTree& factory) {
  HIL_TRY(hil::device::StoredConfig::validate(args.geometry));
  std::unique_ptr<Storage> s(new Storage(args));
  HIL_TRY_ASSIGN(auto config, hil::device::StoredConfig::create(s->flash_, factory));
  s->config_ = std::move(config);
  if (!args.flash_path.empty()) {
    const uint32_t size = args.geometry.size;
    int h = sh_open(args.flash_path.c_str(), SH_OPEN_RPLUSB);
    if (h >= 0) {
      int len = sh_flen(h);
      if (len == 0) {
        // An empty file: a new chip, written below.
      } else if (len != static_cast<int>(size)) {
        sh_close(h);
        return hil::Error{hil::ErrorCode::kInvalidArgument,
                          "flash image " + args.flash_path + " is " + std::to_string(len) +
                              " bytes but the flash is " + std::to_string(size)};
      } else {
        std::vector<uint8_t> image(size);
        if (sh_seek(h, 0) != 0 || sh_read(h, image.data(), size) != 0) {
          sh_close(h);
          return hil::Error{hil::ErrorCode::kIo, "cannot read flash image " + args.flash_path};
        }
        (void)s->flash_.load_image(image.data(), image.size());
      }
    } else {
      h = sh_open(args.flash_path.c_str(), SH_OPEN_WPLUSB);
      if (h < 0)
        return hil::Error{hil::ErrorCode::kIo, "cannot create flash image " + args.flash_path};
    }
    s->mirror_ = std::make_unique<Mirror>(*s, h);
    if (sh_flen(h) != static_cast<int>(size)) s->mirror_->on_image_changed(0, size);
    if (!s->image_error_.empty()) return hil::Error{hil::ErrorCode::kIo, s->image_error_};
    s->flash_.set_observer(s->mirror_.get());
  }
  if (args.cut_op) s->flash_.arm_power_cut(*args.cut_op, args.cut_byte);
  return s;
}

}  // namespace fw
