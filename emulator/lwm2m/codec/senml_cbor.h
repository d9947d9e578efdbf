// SenML-CBOR (content format 112, RFC 8428 section 6 with the LwM2M 1.1
// additions of TS Core 7.4.5): an array of maps keyed by integer labels
// (bn -2, n 0, v 2, vs 3, vb 4, vd 8) and the text key "vlo". A small CBOR
// reader and writer of its own (RFC 8949 major types 0-5 and 7), so the codec
// needs no library and no exceptions.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/codec/senml.h"

namespace hil::lwm2m::senml_cbor {

// Items nested deeper than this (inside fields the codec skips) are
// rejected; the pack itself is two levels (array of maps).
constexpr int kMaxDepth = 16;

// Resolves names as senml_json::decode does. Accepts definite and
// indefinite-length arrays and maps, any integer width (minimal or not), and
// half, single and double floats. Rejects truncation, trailing bytes,
// indefinite-length (chunked) strings, tags (major type 6), reserved
// additional information (28-30), stray breaks, simple values other than
// false, true, null and undefined, text strings that are not UTF-8,
// duplicate keys, a top level other than an array of maps, wrongly typed
// known fields ("v" must be an integer or float, "vb" a boolean, "vd" a byte
// string, "bn", "n", "vs" and "vlo" text), more than one value field, empty
// resolved names, bv (-5), bs (-6) and s (5), and unknown text keys ending in
// '_'. Other labels (bver -1, bu -4, bt -3, u 1, t 6, ut 7, unknown ones) are
// skipped. Negative integers below -2^63 read as doubles. Errors name the
// byte offset and the record index.
Result<std::vector<senml::Record>> decode(const uint8_t* data, size_t len);

// Definite lengths, shortest integer heads, keys in the order bn, n, value.
// Floats take the shortest of half, single and double that holds the value
// exactly (NaN as the half 0x7e00). `base_name` works as in
// senml_json::encode. Errors when a name or string is not UTF-8 or a name
// does not start with `base_name`.
Result<Bytes> encode(const std::vector<senml::Record>& records, const std::string& base_name = "");

}  // namespace hil::lwm2m::senml_cbor
