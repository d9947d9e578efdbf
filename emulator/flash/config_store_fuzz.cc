// Any image bytes: mount() must not crash, must give a payload or empty, and
// the store must still take a commit that a remount then reads back.
//
// Raw bytes rarely form a header with a matching CRC, so an input whose first
// byte is odd is instead XORed over an image the store wrote itself: that
// reaches corrupt records, torn markers and fallbacks across sectors.
#include <cstdlib>
#include <cstring>

#include "emulator/flash/config_store.h"

namespace {

using hil::flash::ConfigStore;
using hil::flash::Geometry;
using hil::flash::NorFlash;
using hil::flash::NorFlashOptions;
using hil::flash::ViolationPolicy;

NorFlashOptions options() {
  NorFlashOptions o;
  o.geometry = Geometry{4 * 256, 256, 64};
  o.on_violation = ViolationPolicy::kError;  // a store bug shows as a failed commit
  return o;
}

const std::vector<uint8_t>& written_image() {
  static const std::vector<uint8_t> image = [] {
    NorFlash flash(options());
    ConfigStore store(flash);
    if (!store.mount()) std::abort();
    for (uint8_t i = 0; i < 7; ++i) {
      if (!store.commit(std::vector<uint8_t>(40 + 23 * i, i))) std::abort();
      if (i % 3 == 0 && !store.count_boot()) std::abort();
    }
    return flash.image();
  }();
  return image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NorFlash flash(options());
  std::vector<uint8_t> image(flash.image().size(), 0xFF);
  if (size && (data[0] & 1)) {
    image = written_image();
    for (size_t i = 1; i < size && i - 1 < image.size(); ++i) image[i - 1] ^= data[i];
  } else {
    std::memcpy(image.data(), data, std::min(size, image.size()));
  }
  if (!flash.load_image(image.data(), image.size())) std::abort();

  ConfigStore store(flash);
  if (!store.mount()) std::abort();  // only a read error fails a mount; none here
  if (store.load() && store.load()->size() > store.max_payload()) std::abort();
  const uint32_t boots = store.boot_count();
  const std::optional<std::vector<uint8_t>> before = store.load();

  const std::vector<uint8_t> next(data, data + std::min<size_t>(size, 40));
  hil::Status committed = store.commit(next);
  ConfigStore again(flash);
  if (!again.mount()) std::abort();
  if (committed) {
    if (!again.load() || *again.load() != next || again.boot_count() != boots) std::abort();
  } else {
    // Only an image whose sequence numbers are used up refuses; it stays as it was.
    if (committed.error().message.empty() || again.load() != before) std::abort();
  }
  return 0;
}
