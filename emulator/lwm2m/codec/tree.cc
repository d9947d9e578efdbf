#include "emulator/lwm2m/codec/tree.h"

#include <string>

#include "emulator/lwm2m/codec/content.h"

namespace hil::lwm2m::tree {

Result<Bytes> encode(const ObjectTree& tree, const ObjectRegistry& registry) {
  Bytes out;
  for (const auto& [obj, instances] : tree.objects()) {
    const ObjectDef* def = registry.find(obj);
    if (def == nullptr)
      return Error{ErrorCode::kInvalidArgument,
                   "object " + std::to_string(obj) + " has no definition"};
    HIL_TRY_ASSIGN(auto body,
                   content::encode(*def, Path{obj, {}, {}, {}}, instances, format::kTlv));
    uint32_t len = static_cast<uint32_t>(body.size());
    out.insert(out.end(), {static_cast<uint8_t>(obj >> 8), static_cast<uint8_t>(obj),
                           static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                           static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

Result<ObjectTree> decode(const uint8_t* data, size_t len, const ObjectRegistry& registry) {
  ObjectTree tree;
  size_t at = 0;
  while (at < len) {
    if (len - at < 6)
      return Error{ErrorCode::kInvalidArgument,
                   "object tree truncated in a header at byte " + std::to_string(at)};
    uint16_t obj = static_cast<uint16_t>(data[at] << 8 | data[at + 1]);
    uint32_t n = static_cast<uint32_t>(data[at + 2]) << 24 |
                 static_cast<uint32_t>(data[at + 3]) << 16 |
                 static_cast<uint32_t>(data[at + 4]) << 8 | data[at + 5];
    at += 6;
    if (n > len - at)
      return Error{ErrorCode::kInvalidArgument,
                   "object " + std::to_string(obj) + " runs past the end"};
    const ObjectDef* def = registry.find(obj);
    if (def == nullptr)
      return Error{ErrorCode::kInvalidArgument,
                   "object " + std::to_string(obj) + " has no definition"};
    if (tree.objects().count(obj))
      return Error{ErrorCode::kInvalidArgument, "object " + std::to_string(obj) + " appears twice"};
    HIL_TRY_ASSIGN(auto instances,
                   content::decode_write(*def, Path{obj, {}, {}, {}}, format::kTlv, data + at, n));
    tree.objects()[obj] = std::move(instances);
    at += n;
  }
  return tree;
}

}  // namespace hil::lwm2m::tree
