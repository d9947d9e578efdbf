// Object definitions: what DDF XML files publish. The client core and the
// codecs work from these tables, so a new object is a new table, not new code.
// The builtin tables are generated from emulator/lwm2m/objects/*.xml at build
// time; emulator/lwm2m/objects/ddf.h loads a user's DDF files on the host.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "emulator/lwm2m/model/value.h"

namespace hil::lwm2m {

enum class Ops : uint8_t { None = 0, R = 1, W = 2, RW = 3, E = 4 };

struct ResourceDef {
  uint16_t id;
  std::string name;
  ResourceType type;
  bool multiple;
  bool mandatory;
  Ops ops;
};

struct ObjectDef {
  uint16_t id;
  std::string name;
  bool multiple;
  std::vector<ResourceDef> resources;

  const ResourceDef* resource(uint16_t rid) const;
};

class ObjectRegistry {
 public:
  // Security (0), Server (1), Access Control (2), Device (3), Connectivity
  // Monitoring (4), Firmware Update (5), Connectivity Statistics (7).
  static const ObjectRegistry& builtin();

  void add(ObjectDef def);
  const ObjectDef* find(uint16_t obj) const;
  std::vector<uint16_t> ids() const;

 private:
  std::map<uint16_t, ObjectDef> defs_;
};

// Resource ids the core refers to by name.
namespace security {
constexpr uint16_t kUri = 0, kBootstrapServer = 1, kMode = 2, kIdentity = 3, kServerKey = 4,
                   kSecretKey = 5, kShortServerId = 10, kHoldOff = 11,
                   kBootstrapAccountTimeout = 12;
constexpr int64_t kModePsk = 0, kModeRpk = 1, kModeCert = 2, kModeNoSec = 3;
}  // namespace security
namespace server {
constexpr uint16_t kShortServerId = 0, kLifetime = 1, kBinding = 7, kUpdateTrigger = 8,
                   kBootstrapTrigger = 9;
}
namespace device {
constexpr uint16_t kManufacturer = 0, kModel = 1, kSerial = 2, kFirmware = 3, kReboot = 4,
                   kFactoryReset = 5, kBindings = 16;
}
constexpr uint16_t kSecurity = 0, kServer = 1, kAccessControl = 2, kDevice = 3;

}  // namespace hil::lwm2m
