#include "emulator/lwm2m/model/object_def.h"

namespace hil::lwm2m {
namespace {

constexpr bool kMulti = true, kSingle = false;
constexpr bool kMandatory = true, kOptional = false;
using T = ResourceType;

// OMA LwM2M Security object (TS 1.1, Appendix E.1). The DDF gives these
// resources no operations: only the bootstrap interface may touch them.
ObjectDef security_def() {
  return {kSecurity,
          "LwM2M Security",
          kMulti,
          {
              {0, "LwM2M Server URI", T::String, kSingle, kMandatory, Ops::None},
              {1, "Bootstrap-Server", T::Boolean, kSingle, kMandatory, Ops::None},
              {2, "Security Mode", T::Integer, kSingle, kMandatory, Ops::None},
              {3, "Public Key or Identity", T::Opaque, kSingle, kMandatory, Ops::None},
              {4, "Server Public Key", T::Opaque, kSingle, kMandatory, Ops::None},
              {5, "Secret Key", T::Opaque, kSingle, kMandatory, Ops::None},
              {6, "SMS Security Mode", T::Integer, kSingle, kOptional, Ops::None},
              {7, "SMS Binding Key Parameters", T::Opaque, kSingle, kOptional, Ops::None},
              {8, "SMS Binding Secret Key(s)", T::Opaque, kSingle, kOptional, Ops::None},
              {9, "LwM2M Server SMS Number", T::String, kSingle, kOptional, Ops::None},
              {10, "Short Server ID", T::Integer, kSingle, kOptional, Ops::None},
              {11, "Client Hold Off Time", T::Integer, kSingle, kOptional, Ops::None},
              {12, "Bootstrap-Server Account Timeout", T::Integer, kSingle, kOptional, Ops::None},
              {13, "Matching Type", T::UnsignedInteger, kSingle, kOptional, Ops::None},
              {14, "SNI", T::String, kSingle, kOptional, Ops::None},
              {15, "Certificate Usage", T::UnsignedInteger, kSingle, kOptional, Ops::None},
              {16, "DTLS/TLS Ciphersuite", T::UnsignedInteger, kMulti, kOptional, Ops::None},
              {17, "OSCORE Security Mode", T::ObjLink, kSingle, kOptional, Ops::None},
          }};
}

// OMA LwM2M Server object (TS 1.1, Appendix E.2); 9 and up arrived in 1.1.
ObjectDef server_def() {
  return {
      kServer,
      "LwM2M Server",
      kMulti,
      {
          {0, "Short Server ID", T::Integer, kSingle, kMandatory, Ops::R},
          {1, "Lifetime", T::Integer, kSingle, kMandatory, Ops::RW},
          {2, "Default Minimum Period", T::Integer, kSingle, kOptional, Ops::RW},
          {3, "Default Maximum Period", T::Integer, kSingle, kOptional, Ops::RW},
          {4, "Disable", T::None, kSingle, kOptional, Ops::E},
          {5, "Disable Timeout", T::Integer, kSingle, kOptional, Ops::RW},
          {6, "Notification Storing When Disabled or Offline", T::Boolean, kSingle, kMandatory,
           Ops::RW},
          {7, "Binding", T::String, kSingle, kMandatory, Ops::RW},
          {8, "Registration Update Trigger", T::None, kSingle, kMandatory, Ops::E},
          {9, "Bootstrap-Request Trigger", T::None, kSingle, kOptional, Ops::E},
          {10, "APN Link", T::ObjLink, kSingle, kOptional, Ops::RW},
          {11, "TLS-DTLS Alert Code", T::UnsignedInteger, kSingle, kOptional, Ops::R},
          {12, "Last Bootstrapped", T::Time, kSingle, kOptional, Ops::R},
          {13, "Registration Priority Order", T::UnsignedInteger, kSingle, kOptional, Ops::RW},
          {14, "Initial Registration Delay Timer", T::UnsignedInteger, kSingle, kOptional, Ops::RW},
          {15, "Registration Failure Block", T::Boolean, kSingle, kOptional, Ops::RW},
          {16, "Bootstrap on Registration Failure", T::Boolean, kSingle, kOptional, Ops::RW},
          {17, "Communication Retry Count", T::UnsignedInteger, kSingle, kOptional, Ops::RW},
          {18, "Communication Retry Timer", T::UnsignedInteger, kSingle, kOptional, Ops::RW},
          {19, "Communication Sequence Delay Timer", T::UnsignedInteger, kSingle, kOptional,
           Ops::RW},
          {20, "Communication Sequence Retry Count", T::UnsignedInteger, kSingle, kOptional,
           Ops::RW},
          {21, "Trigger", T::Boolean, kSingle, kOptional, Ops::RW},
          {22, "Preferred Transport", T::String, kSingle, kOptional, Ops::RW},
          {23, "Mute Send", T::Boolean, kSingle, kOptional, Ops::RW},
      }};
}

// OMA LwM2M Access Control object (TS 1.0, Appendix E.3).
ObjectDef access_control_def() {
  return {kAccessControl,
          "LwM2M Access Control",
          kMulti,
          {
              {0, "Object ID", T::Integer, kSingle, kMandatory, Ops::R},
              {1, "Object Instance ID", T::Integer, kSingle, kMandatory, Ops::R},
              {2, "ACL", T::Integer, kMulti, kOptional, Ops::RW},
              {3, "Access Control Owner", T::Integer, kSingle, kMandatory, Ops::RW},
          }};
}

// OMA Device object (TS 1.0, Appendix E.4).
ObjectDef device_def() {
  return {kDevice,
          "Device",
          kSingle,
          {
              {0, "Manufacturer", T::String, kSingle, kOptional, Ops::R},
              {1, "Model Number", T::String, kSingle, kOptional, Ops::R},
              {2, "Serial Number", T::String, kSingle, kOptional, Ops::R},
              {3, "Firmware Version", T::String, kSingle, kOptional, Ops::R},
              {4, "Reboot", T::None, kSingle, kMandatory, Ops::E},
              {5, "Factory Reset", T::None, kSingle, kOptional, Ops::E},
              {6, "Available Power Sources", T::Integer, kMulti, kOptional, Ops::R},
              {7, "Power Source Voltage", T::Integer, kMulti, kOptional, Ops::R},
              {8, "Power Source Current", T::Integer, kMulti, kOptional, Ops::R},
              {9, "Battery Level", T::Integer, kSingle, kOptional, Ops::R},
              {10, "Memory Free", T::Integer, kSingle, kOptional, Ops::R},
              {11, "Error Code", T::Integer, kMulti, kMandatory, Ops::R},
              {12, "Reset Error Code", T::None, kSingle, kOptional, Ops::E},
              {13, "Current Time", T::Time, kSingle, kOptional, Ops::RW},
              {14, "UTC Offset", T::String, kSingle, kOptional, Ops::RW},
              {15, "Timezone", T::String, kSingle, kOptional, Ops::RW},
              {16, "Supported Binding and Modes", T::String, kSingle, kMandatory, Ops::R},
              {17, "Device Type", T::String, kSingle, kOptional, Ops::R},
              {18, "Hardware Version", T::String, kSingle, kOptional, Ops::R},
              {19, "Software Version", T::String, kSingle, kOptional, Ops::R},
              {20, "Battery Status", T::Integer, kSingle, kOptional, Ops::R},
              {21, "Memory Total", T::Integer, kSingle, kOptional, Ops::R},
              {22, "ExtDevInfo", T::ObjLink, kMulti, kOptional, Ops::R},
          }};
}

}  // namespace

const ResourceDef* ObjectDef::resource(uint16_t rid) const {
  for (const ResourceDef& r : resources) {
    if (r.id == rid) return &r;
  }
  return nullptr;
}

const ObjectRegistry& ObjectRegistry::builtin() {
  static const ObjectRegistry registry = [] {
    ObjectRegistry r;
    r.add(security_def());
    r.add(server_def());
    r.add(access_control_def());
    r.add(device_def());
    return r;
  }();
  return registry;
}

void ObjectRegistry::add(ObjectDef def) {
  const uint16_t id = def.id;
  defs_[id] = std::move(def);
}

const ObjectDef* ObjectRegistry::find(uint16_t obj) const {
  auto it = defs_.find(obj);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<uint16_t> ObjectRegistry::ids() const {
  std::vector<uint16_t> out;
  for (const auto& [id, def] : defs_) out.push_back(id);
  return out;
}

}  // namespace hil::lwm2m
