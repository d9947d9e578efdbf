// The instances and resource values a client holds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "emulator/lwm2m/model/flat_map.h"
#include "emulator/lwm2m/model/path.h"
#include "emulator/lwm2m/model/value.h"

namespace hil::lwm2m {

struct Resource {
  bool multiple = false;
  // A single-instance resource keeps its value under key 0.
  FlatMap<uint16_t, Value> values;

  static Resource single(Value v) { return Resource{false, {{0, std::move(v)}}}; }
  bool operator==(const Resource& o) const { return multiple == o.multiple && values == o.values; }
};

using Instance = FlatMap<uint16_t, Resource>;   // resource id -> resource
using Instances = FlatMap<uint16_t, Instance>;  // instance id -> instance

class ObjectTree {
 public:
  std::map<uint16_t, Instances>& objects() { return objects_; }
  const std::map<uint16_t, Instances>& objects() const { return objects_; }

  const Instances* object(uint16_t obj) const;
  const Instance* instance(uint16_t obj, uint16_t inst) const;
  Instance* instance(uint16_t obj, uint16_t inst);
  const Resource* resource(uint16_t obj, uint16_t inst, uint16_t res) const;
  // The value of a single-instance resource, if present.
  const Value* value(uint16_t obj, uint16_t inst, uint16_t res) const;

  template <typename T>
  std::optional<T> get(uint16_t obj, uint16_t inst, uint16_t res) const {
    const Value* v = value(obj, inst, res);
    if (v == nullptr || !std::holds_alternative<T>(*v)) return std::nullopt;
    return std::get<T>(*v);
  }

  void set(uint16_t obj, uint16_t inst, uint16_t res, Value v);
  // Write semantics of the bootstrap interface: create or replace. Resources
  // in `data` replace those of the same id; others stay (PUT on an instance
  // in bootstrap replaces only the resources it carries).
  void merge_instance(uint16_t obj, uint16_t inst, const Instance& data);
  void erase(uint16_t obj, uint16_t inst);
  void erase(uint16_t obj);

  bool operator==(const ObjectTree& o) const { return objects_ == o.objects_; }

 private:
  std::map<uint16_t, Instances> objects_;
};

}  // namespace hil::lwm2m
