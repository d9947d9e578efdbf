#include "emulator/storage/stored_config.h"

#include "emulator/lwm2m/codec/tree.h"

namespace hil::storage {

Status StoredConfig::validate(const flash::Geometry& geometry) {
  if (auto valid = flash::NorFlash::validate(geometry); !valid)
    return valid.error().prefixed("flash geometry: ");
  if (geometry.sectors() < 2)
    return Error{ErrorCode::kInvalidArgument,
                 "flash geometry: the configuration store needs at least 2 sectors (size >= 2 * "
                 "sector_size)"};
  return ok_status();
}

Result<std::unique_ptr<StoredConfig>> StoredConfig::create(flash::NorFlash& flash,
                                                           const lwm2m::ObjectTree& factory) {
  auto bytes = encode(factory);
  if (!bytes) return bytes.error().prefixed("the factory configuration cannot be encoded: ");
  return std::unique_ptr<StoredConfig>(new StoredConfig(flash, std::move(*bytes)));
}

Result<std::vector<uint8_t>> StoredConfig::encode(const lwm2m::ObjectTree& config) {
  return lwm2m::tree::encode(config, lwm2m::ObjectRegistry::builtin());
}

Status StoredConfig::commit(const lwm2m::ObjectTree& config) {
  HIL_TRY_ASSIGN(auto bytes, encode(config));
  return commit(bytes);
}

Result<lwm2m::ObjectTree> StoredConfig::boot() {
  flash_.power_on();
  HIL_TRY(store_.mount());
  if (!store_.load()) {
    notes_.push_back(
        {0, "flash_factory_image", "blank configuration store: factory image written"});
    HIL_TRY(store_.factory_reset(factory_));
  }
  HIL_TRY(store_.count_boot());
  const std::vector<uint8_t>& stored = *store_.load();
  auto tree = lwm2m::tree::decode(stored.data(), stored.size(), lwm2m::ObjectRegistry::builtin());
  if (!tree)
    return Error{ErrorCode::kDataLoss,
                 "stored configuration does not decode: " + tree.error().message};
  return tree;
}

std::vector<Event> StoredConfig::take_events() {
  std::vector<Event> out = flash_.take_events();
  out.insert(out.end(), notes_.begin(), notes_.end());
  notes_.clear();
  return out;
}

}  // namespace hil::storage
