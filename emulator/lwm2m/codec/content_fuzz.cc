// decode_write on the bootstrap objects; the first three bytes choose the
// object, the target depth and ids, and the content format. Whatever decodes
// must encode for the same target and decode to the same instances. Bytes,
// not Values, are compared so that NaN floats count as equal to themselves.
#include <cstdlib>

#include "emulator/lwm2m/codec/content.h"

namespace {

using namespace hil::lwm2m;

constexpr uint16_t kObjects[] = {kSecurity, kServer, kDevice};
constexpr uint16_t kFormats[] = {format::kTlv, format::kText, format::kOpaque, format::kSenmlCbor,
                                 format::kSenmlJson};

Path target(uint16_t obj, uint8_t shape) {
  Path p;
  p.obj = obj;
  const int depth = 1 + (shape & 0x3) % 3;
  if (depth >= 2) p.inst = (shape >> 2) & 0x1;
  if (depth == 3) p.res = shape >> 3;  // 0..31 covers every builtin resource
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const ObjectDef& def = *ObjectRegistry::builtin().find(kObjects[data[0] % 3]);
  const Path path = target(def.id, data[1]);
  const uint16_t fmt = kFormats[data[2] % 5];
  hil::Result<Instances> decoded = content::decode_write(def, path, fmt, data + 3, size - 3);
  if (!decoded) return 0;
  hil::Result<Bytes> encoded = content::encode(def, path, *decoded, fmt);
  // Plain text decodes only finite Floats, so every decoded value encodes.
  if (!encoded) std::abort();
  hil::Result<Instances> again =
      content::decode_write(def, path, fmt, encoded->data(), encoded->size());
  if (!again) std::abort();
  hil::Result<Bytes> reencoded = content::encode(def, path, *again, fmt);
  if (!reencoded || *reencoded != *encoded) std::abort();
  return 0;
}
