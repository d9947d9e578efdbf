#include "emulator/device/storage.h"

#include "emulator/lwm2m/codec/tree.h"

namespace hil::device {

Status validate(const FlashConfig& config) {
  if (auto valid = flash::NorFlash::validate(config.geometry); !valid)
    return Error{"flash geometry: " + valid.error().message};
  if (config.geometry.sectors() < 2)
    return Error{
        "flash geometry: the configuration store needs at least 2 sectors (size >= 2 * "
        "sector_size)"};
  return ok_status();
}

Result<std::unique_ptr<Storage>> Storage::open(const FlashConfig& config,
                                               lwm2m::ObjectTree factory) {
  if (auto valid = validate(config); !valid) return valid.error();
  std::unique_ptr<Storage> s(new Storage(config, std::move(factory)));
  if (s->factory_payload_.empty()) return Error{"the factory configuration cannot be encoded"};
  if (!config.image_path.empty()) {
    auto image = flash::FileImage::open(config.image_path, *s->flash_);
    if (!image) return Error{"flash image: " + image.error().message};
    s->image_ = std::move(*image);
  }
  return s;
}

Storage::Storage(const FlashConfig& config, lwm2m::ObjectTree factory)
    : flash_(std::make_unique<flash::NorFlash>(
          flash::NorFlashOptions{config.geometry, config.on_violation, config.endurance,
                                 config.seed, config.program_latency_us, config.erase_latency_us})),
      store_(*flash_) {
  if (auto bytes = lwm2m::tree::encode(factory, lwm2m::ObjectRegistry::builtin()))
    factory_payload_ = std::move(*bytes);
}

Result<lwm2m::ObjectTree> Storage::boot() {
  flash_->power_on();
  if (auto st = store_.mount(); !st) return st.error();
  if (!store_.load()) {
    notes_.push_back(
        {0, "flash_factory_image", "blank configuration store: factory image written"});
    if (auto st = store_.factory_reset(factory_payload_); !st) return st.error();
  }
  if (auto st = store_.count_boot(); !st) return st.error();
  const std::vector<uint8_t>& payload = *store_.load();
  if (attempted_ && payload != *attempted_ && (!committed_ || payload != *committed_)) {
    ++torn_configs_;
    notes_.push_back({0, "torn_config", "booted with neither the old nor the new configuration"});
  }
  committed_ = payload;
  attempted_.reset();
  auto tree = lwm2m::tree::decode(payload.data(), payload.size(), lwm2m::ObjectRegistry::builtin());
  if (!tree) return Error{"stored configuration does not decode: " + tree.error().message};
  return tree;
}

Status Storage::commit(const lwm2m::ObjectTree& config) {
  auto bytes = lwm2m::tree::encode(config, lwm2m::ObjectRegistry::builtin());
  if (!bytes) return bytes.error();
  attempted_ = *bytes;
  if (auto st = store_.commit(*bytes); !st) return st;
  committed_ = std::move(attempted_);
  attempted_.reset();
  return ok_status();
}

Status Storage::factory_reset() {
  committed_ = factory_payload_;
  attempted_.reset();
  return store_.factory_reset(factory_payload_);
}

std::vector<Event> Storage::take_events() {
  std::vector<Event> out = flash_->take_events();
  out.insert(out.end(), notes_.begin(), notes_.end());
  notes_.clear();
  return out;
}

}  // namespace hil::device
