#include "emulator/lwm2m/model/object_tree.h"

namespace hil::lwm2m {

const Instances* ObjectTree::object(uint16_t obj) const {
  auto it = objects_.find(obj);
  return it == objects_.end() ? nullptr : &it->second;
}

const Instance* ObjectTree::instance(uint16_t obj, uint16_t inst) const {
  const Instances* o = object(obj);
  if (o == nullptr) return nullptr;
  auto it = o->find(inst);
  return it == o->end() ? nullptr : &it->second;
}

Instance* ObjectTree::instance(uint16_t obj, uint16_t inst) {
  auto o = objects_.find(obj);
  if (o == objects_.end()) return nullptr;
  auto it = o->second.find(inst);
  return it == o->second.end() ? nullptr : &it->second;
}

const Resource* ObjectTree::resource(uint16_t obj, uint16_t inst, uint16_t res) const {
  const Instance* i = instance(obj, inst);
  if (i == nullptr) return nullptr;
  auto it = i->find(res);
  return it == i->end() ? nullptr : &it->second;
}

const Value* ObjectTree::value(uint16_t obj, uint16_t inst, uint16_t res) const {
  const Resource* r = resource(obj, inst, res);
  if (r == nullptr || r->multiple) return nullptr;
  auto it = r->values.find(0);
  return it == r->values.end() ? nullptr : &it->second;
}

void ObjectTree::set(uint16_t obj, uint16_t inst, uint16_t res, Value v) {
  objects_[obj][inst][res] = Resource::single(std::move(v));
}

void ObjectTree::merge_instance(uint16_t obj, uint16_t inst, const Instance& data) {
  Instance& target = objects_[obj][inst];
  for (const auto& [rid, resource] : data) target[rid] = resource;
}

void ObjectTree::erase(uint16_t obj, uint16_t inst) {
  auto o = objects_.find(obj);
  if (o == objects_.end()) return;
  o->second.erase(inst);
}

void ObjectTree::erase(uint16_t obj) { objects_.erase(obj); }

}  // namespace hil::lwm2m
