#include "emulator/lwm2m/model/object_def.h"

namespace hil::lwm2m {

const ResourceDef* ObjectDef::resource(uint16_t rid) const {
  for (const ResourceDef& r : resources) {
    if (r.id == rid) return &r;
  }
  return nullptr;
}

// ObjectRegistry::builtin() is generated from emulator/lwm2m/objects/*.xml
// (ddf_to_cc.py) into builtin_objects.cc.

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
