// The client's configuration on the flash: an object tree (objects 0 and 1,
// and the Device object; lwm2m::tree-encoded) in the power-safe
// configuration store, with the factory image written on a blank chip and
// every boot counted. Firmware-clean (no libcoap, no files, no clock):
// native devices and the firmware image boot and commit through this one
// class, inside Storage (storage.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/flash/config_store.h"
#include "emulator/flash/nor_flash.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::storage {

class StoredConfig {
 public:
  // Errors: kInvalidArgument naming the field (a geometry the model refuses,
  // fewer than the two sectors the store needs).
  static Status validate(const flash::Geometry& geometry);
  // `flash` must outlive the result. Errors: kInvalidArgument (the factory
  // tree cannot be encoded).
  static Result<std::unique_ptr<StoredConfig>> create(flash::NorFlash& flash,
                                                      const lwm2m::ObjectTree& factory);

  // Power on, mount, write the factory image on a blank chip, count the
  // boot, and return the configuration to boot with: the last committed one.
  // Errors: the store's (kPowerLost, kResourceExhausted), kDataLoss (the
  // stored configuration does not decode).
  Result<lwm2m::ObjectTree> boot();
  // What boot() decoded: the store's live payload.
  const std::optional<std::vector<uint8_t>>& payload() const { return store_.load(); }
  static Result<std::vector<uint8_t>> encode(const lwm2m::ObjectTree& config);
  // Durable before acknowledged: ok only once the commit landed whole.
  // Errors: kPowerLost (a power cut), ConfigStore::commit()'s others.
  Status commit(const std::vector<uint8_t>& payload) { return store_.commit(payload); }
  Status commit(const lwm2m::ObjectTree& config);
  Status factory_reset() { return store_.factory_reset(factory_); }
  const std::vector<uint8_t>& factory_payload() const { return factory_; }

  flash::ConfigStore& store() { return store_; }
  // Flash faults and store findings since the last call, unstamped.
  std::vector<Event> take_events();

 private:
  StoredConfig(flash::NorFlash& flash, std::vector<uint8_t> factory)
      : flash_(flash), store_(flash), factory_(std::move(factory)) {}

  flash::NorFlash& flash_;
  flash::ConfigStore store_;
  std::vector<uint8_t> factory_;
  std::vector<Event> notes_;
};

}  // namespace hil::storage
