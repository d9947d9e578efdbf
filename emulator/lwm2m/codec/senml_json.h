// SenML-JSON (content format 110, RFC 8428 section 5 with the LwM2M 1.1
// additions of TS Core 7.4.4): an array of records such as
//   [{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"6/0","v":1}]
// A strict parser of its own (RFC 8259 grammar, UTF-8 only), so the codec
// needs no JSON library and no exceptions.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/codec/senml.h"

namespace hil::lwm2m::senml_json {

// Values nested deeper than this (inside fields the codec skips) are
// rejected; the pack itself is two levels (array of objects).
constexpr int kMaxDepth = 16;

// Resolves names: "bn" stays in force until the next "bn", and each record's
// name is that base name followed by "n". Rejects anything that is not
// strict JSON (trailing commas, comments, single quotes, bare control
// characters, invalid UTF-8, lone surrogate escapes, numbers out of double
// range, duplicate keys, trailing bytes), a top level other than an array of
// objects, wrongly typed known fields ("v" must be a number, "vb" true or
// false, "vd" unpadded or padded base64url with zero trailing bits), more
// than one value field in a record, records whose resolved name is empty,
// "bv", "bs" and "s", and unknown fields ending in '_'. Other fields ("bt",
// "t", "bu", "u", "ut", "bver", unknown ones) are skipped. Errors name the
// byte offset and the record index.
Result<std::vector<senml::Record>> decode(const uint8_t* data, size_t len);

// Compact JSON. When `base_name` is not empty the first record carries it as
// "bn" and every record's "n" is the rest of its name (omitted when empty),
// so every name must start with it. Floats are written so they read back as
// floats ("5.0", "1e+20"); NaN and infinities have no JSON form and are an
// error, as are names or strings that are not UTF-8.
Result<Bytes> encode(const std::vector<senml::Record>& records, const std::string& base_name = "");

// base64url (RFC 4648 section 5) without padding, as "vd" carries it.
std::string base64url_encode(const Bytes& b);
// Accepts the unpadded form and the padded one; rejects other characters,
// impossible lengths and non-zero trailing bits.
Result<Bytes> base64url_decode(const std::string& s);

}  // namespace hil::lwm2m::senml_json
