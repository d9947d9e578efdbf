// SenML records (RFC 8428) as LwM2M 1.1 uses them (TS Core 7.4.4, 7.4.5):
// the model senml_json.h and senml_cbor.h decode into and encode from, and the
// conversion between a record's value field and a typed resource value.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/value.h"

namespace hil::lwm2m::senml {

// Which value field a record carries; at most one per record.
enum class Field : uint8_t {
  None,     // no value (Read-Composite style); a Write rejects it
  Number,   // "v" (CBOR label 2)
  String,   // "vs" (3)
  Boolean,  // "vb" (4)
  Data,     // "vd" (8): base64url in JSON, a byte string in CBOR
  ObjLink,  // "vlo" (text key "vlo" in CBOR): "obj:inst"
};

// "v", "vs", "vb", "vd", "vlo", or "no value".
const char* field_name(Field f);

// A number as it was written: non-negative integers as uint64_t, negative
// ones as int64_t, anything with a fraction or exponent (and integers out of
// 64-bit range) as double.
using Number = std::variant<int64_t, uint64_t, double>;

struct Record {
  std::string name;  // resolved: the base name in force + "n"
  Field field = Field::None;
  Number number = uint64_t{0};  // Field::Number
  std::string text;             // Field::String and Field::ObjLink
  bool boolean = false;         // Field::Boolean
  Bytes data;                   // Field::Data

  // Compares the name and the carried field only; a NaN differs from itself.
  bool operator==(const Record& o) const;
  bool operator!=(const Record& o) const { return !(*this == o); }
};

// Fields this codec ignores (base time, units, times, version) and those it
// rejects because they change what "v" means or add a second value (base
// value "bv", base sum "bs", sum "s"). Names ending in '_' are must-understand
// extensions (RFC 8428 section 4.4) and are rejected too; other unknown
// fields are skipped.

// The value of `r` for a resource of type `t`. Integer and Time take "v"
// holding an integer, or a float with an integral value in range; Unsigned
// the same but not negative; Float any "v"; Boolean "vb"; String and CoreLink
// "vs"; Opaque "vd"; ObjLink "vlo" as "obj:inst". Errors say which field was
// expected and which one came.
Result<Value> to_value(ResourceType t, const Record& r);

// Sets the value field of `r` from `v`, which must hold `t`'s alternative.
// Strings must be UTF-8 (JSON and CBOR text strings cannot carry anything
// else).
Status set_value(ResourceType t, const Value& v, Record& r);

// What both encoders require of record `r` written under `base_name`: a
// UTF-8 name that starts with the base name. `where` starts the message
// (e.g. "SenML-JSON record 3: "). Error: kInvalidArgument.
Status check_name(const Record& r, const std::string& base_name, const std::string& where);

}  // namespace hil::lwm2m::senml
