// What the driver (driver.h) needs of a host's persistent storage: make a
// configuration durable. Native devices and the firmware image both commit
// through storage::Storage; a device without flash commits nothing.
#pragma once

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::lwm2m {

class Store {
 public:
  virtual ~Store() = default;

  // Durable before acknowledged: ok only once `config` landed whole.
  // Errors: kPowerLost (the device lost power in the write: it is off);
  // any other: the write failed, and the request that caused it is answered
  // 5.00 while the core stays in bootstrap.
  virtual Status commit(const ObjectTree& config) = 0;
};

}  // namespace hil::lwm2m
