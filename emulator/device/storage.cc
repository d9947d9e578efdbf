#include "emulator/device/storage.h"

namespace hil::device {

Status validate(const FlashConfig& config) { return StoredConfig::validate(config.geometry); }

Result<std::unique_ptr<Storage>> Storage::open(const FlashConfig& config,
                                               lwm2m::ObjectTree factory) {
  if (auto valid = validate(config); !valid) return valid.error();
  std::unique_ptr<Storage> s(new Storage(config));
  auto stored = StoredConfig::create(*s->flash_, factory);
  if (!stored) return stored.error();
  s->config_ = std::move(*stored);
  if (!config.image_path.empty()) {
    auto image = flash::FileImage::open(config.image_path, *s->flash_);
    if (!image) return Error{"flash image: " + image.error().message};
    s->image_ = std::move(*image);
  }
  return s;
}

Storage::Storage(const FlashConfig& config)
    : flash_(std::make_unique<flash::NorFlash>(flash::NorFlashOptions{
          config.geometry, config.on_violation, config.endurance, config.seed,
          config.program_latency_us, config.erase_latency_us})) {}

Result<lwm2m::ObjectTree> Storage::boot() {
  auto tree = config_->boot();
  if (const auto& payload = config_->payload()) {
    if (attempted_ && *payload != *attempted_ && (!committed_ || *payload != *committed_)) {
      ++torn_configs_;
      notes_.push_back({0, "torn_config", "booted with neither the old nor the new configuration"});
    }
    committed_ = *payload;
    attempted_.reset();
  }
  return tree;
}

Status Storage::commit(const lwm2m::ObjectTree& config) {
  auto bytes = StoredConfig::encode(config);
  if (!bytes) return bytes.error();
  attempted_ = *bytes;
  if (auto st = config_->commit(*bytes); !st) return st;
  committed_ = std::move(attempted_);
  attempted_.reset();
  return ok_status();
}

Status Storage::factory_reset() {
  committed_ = config_->factory_payload();
  attempted_.reset();
  return config_->factory_reset();
}

std::vector<Event> Storage::take_events() {
  std::vector<Event> out = config_->take_events();
  out.insert(out.end(), notes_.begin(), notes_.end());
  notes_.clear();
  return out;
}

}  // namespace hil::device
