// OMA TLV (content format 11542, LwM2M TS 1.0 section 6.4.3): the binary
// format 1.0 bootstrap servers write with. Raw records first, then the value
// encodings a record's bytes carry for each resource type.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/value.h"

namespace hil::lwm2m::tlv {

enum class Type : uint8_t {
  ObjectInstance = 0,    // children: Resource and MultipleResource records
  ResourceInstance = 1,  // leaf
  MultipleResource = 2,  // children: ResourceInstance records
  Resource = 3,          // leaf
};

const char* to_string(Type t);

struct Record {
  Type type = Type::Resource;
  uint16_t id = 0;
  Bytes value;                   // leaves only
  std::vector<Record> children;  // ObjectInstance and MultipleResource only

  bool operator==(const Record& o) const {
    return type == o.type && id == o.id && value == o.value && children == o.children;
  }
};

// Lengths that the 24-bit length field can carry.
constexpr size_t kMaxValueLength = (size_t{1} << 24) - 1;

// Accepts any record type at the top level (which ones a request may carry is
// the content layer's business) and 8- or 16-bit ids and any length field,
// minimal or not. Rejects truncated headers, values that overrun their
// container, and children of the wrong type (which also bounds nesting at
// three levels).
Result<std::vector<Record>> decode(const uint8_t* data, size_t len);

// Minimal encodings: 8-bit ids below 256, length in the type byte up to 7.
// Every value and container must fit kMaxValueLength; content::encode checks.
Bytes encode(const std::vector<Record>& records);

// Bytes of one record's value. Integer and Time: big-endian two's complement
// in 1, 2, 4 or 8 bytes; Unsigned likewise without sign; Float 4 or 8 bytes
// IEEE 754; Boolean one byte 0 or 1; ObjLink two 16-bit ids.
Bytes encode_int(int64_t v);
Result<int64_t> decode_int(const Bytes& b);
Bytes encode_uint(uint64_t v);
Result<uint64_t> decode_uint(const Bytes& b);
Bytes encode_float(double v);
Result<double> decode_float(const Bytes& b);
Bytes encode_bool(bool v);
Result<bool> decode_bool(const Bytes& b);
Bytes encode_objlink(ObjLink v);
Result<ObjLink> decode_objlink(const Bytes& b);

// By resource type: String and CoreLink are their UTF-8 bytes, Opaque the bytes
// themselves. Errors when `v` does not hold the type's alternative or `t` is
// None (executable resources carry no value).
Result<Bytes> encode_value(ResourceType t, const Value& v);
Result<Value> decode_value(ResourceType t, const Bytes& b);

}  // namespace hil::lwm2m::tlv
