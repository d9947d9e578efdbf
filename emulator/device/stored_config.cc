#include "emulator/device/stored_config.h"

#include "emulator/lwm2m/codec/tree.h"

namespace hil::device {

Status StoredConfig::validate(const flash::Geometry& geometry) {
  if (auto valid = flash::NorFlash::validate(geometry); !valid)
    return Error{"flash geometry: " + valid.error().message};
  if (geometry.sectors() < 2)
    return Error{
        "flash geometry: the configuration store needs at least 2 sectors (size >= 2 * "
        "sector_size)"};
  return ok_status();
}

Result<std::unique_ptr<StoredConfig>> StoredConfig::create(flash::NorFlash& flash,
                                                           const lwm2m::ObjectTree& factory) {
  auto bytes = encode(factory);
  if (!bytes) return Error{"the factory configuration cannot be encoded: " + bytes.error().message};
  return std::unique_ptr<StoredConfig>(new StoredConfig(flash, std::move(*bytes)));
}

Result<std::vector<uint8_t>> StoredConfig::encode(const lwm2m::ObjectTree& config) {
  return lwm2m::tree::encode(config, lwm2m::ObjectRegistry::builtin());
}

Status StoredConfig::commit(const lwm2m::ObjectTree& config) {
  auto bytes = encode(config);
  if (!bytes) return bytes.error();
  return commit(*bytes);
}

Result<lwm2m::ObjectTree> StoredConfig::boot() {
  flash_.power_on();
  if (auto st = store_.mount(); !st) return st.error();
  if (!store_.load()) {
    notes_.push_back(
        {0, "flash_factory_image", "blank configuration store: factory image written"});
    if (auto st = store_.factory_reset(factory_); !st) return st.error();
  }
  if (auto st = store_.count_boot(); !st) return st.error();
  const std::vector<uint8_t>& stored = *store_.load();
  auto tree = lwm2m::tree::decode(stored.data(), stored.size(), lwm2m::ObjectRegistry::builtin());
  if (!tree) return Error{"stored configuration does not decode: " + tree.error().message};
  return tree;
}

std::vector<Event> StoredConfig::take_events() {
  std::vector<Event> out = flash_.take_events();
  out.insert(out.end(), notes_.begin(), notes_.end());
  notes_.clear();
  return out;
}

}  // namespace hil::device
