// A whole object tree as bytes, for the configuration store: per object,
// its id (16 bits), the length of its TLV (32 bits, both big-endian) and
// the TLV of its instances, as a Write on /obj would carry them.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/object_def.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::lwm2m::tree {

Result<Bytes> encode(const ObjectTree& tree, const ObjectRegistry& registry);
// Rejects truncation, unknown objects and any TLV the object's definition
// does not accept; never returns a partial tree.
Result<ObjectTree> decode(const uint8_t* data, size_t len, const ObjectRegistry& registry);

}  // namespace hil::lwm2m::tree
