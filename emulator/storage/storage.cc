#include "emulator/storage/storage.h"

namespace hil::storage {

Status validate(const FlashConfig& config) { return StoredConfig::validate(config.geometry); }

Result<std::unique_ptr<Storage>> Storage::open(const FlashConfig& config,
                                               const lwm2m::ObjectTree& factory,
                                               ImageOpener open_image) {
  HIL_TRY(validate(config));
  std::unique_ptr<Storage> s(new Storage(config));
  HIL_TRY_ASSIGN(auto stored, StoredConfig::create(*s->flash_, factory));
  s->config_ = std::move(stored);
  if (!config.image_path.empty()) {
    if (open_image == nullptr)
      return Error{ErrorCode::kUnsupported,
                   "flash image " + config.image_path + ": no image files here"};
    auto image = open_image(config.image_path, *s->flash_);
    if (!image) return image.error().prefixed("flash image: ");
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
  HIL_TRY_ASSIGN(auto bytes, StoredConfig::encode(config));
  attempted_ = bytes;
  HIL_TRY(config_->commit(bytes));
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

}  // namespace hil::storage
