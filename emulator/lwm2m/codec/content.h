// Typed payloads: object instances in and out of a content format, checked
// against an object definition. The client core and the servers use only this
// layer; tlv.h, text.h, senml_json.h, senml_cbor.h and link_format.h are its
// parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/object_def.h"
#include "emulator/lwm2m/model/object_tree.h"
#include "emulator/lwm2m/model/path.h"

namespace hil::lwm2m::content {

// "TLV (11542)", "plain text (0)", "content format 7", for messages.
std::string format_name(uint16_t content_format);

// Decodes a Write payload aimed at `target` (/o, /o/i or /o/i/r, with
// target.obj == def.id) into instances keyed by instance id.
// TLV: for /o, Object Instance records; for /o/i, resource records (instance
// i implied) or one Object Instance record with id i; for /o/i/r, one
// Resource or Multiple Resource record with id r. Plain text and opaque only
// for /o/i/r. Resource ids the definition lacks are skipped inside instances
// (PROTOCOL.md: unsupported optional resources are ignored) but are an error
// as the target itself. Errors name the path: type mismatches, single versus
// multiple records, executable resources, duplicate ids. An empty TLV payload
// gives no instances for /o and one empty instance for /o/i.
// SenML-JSON (110) and SenML-CBOR (112): every record's resolved name is
// /o/i/r for a single resource or /o/i/r/ri for a multiple one, inside the
// target (any instance for /o); the same skipping, type and duplicate rules
// apply, and an empty pack gives what an empty TLV gives (an error for
// /o/i/r). Codes: kUnsupported for a content format not decoded here,
// kInvalidArgument for everything else.
Result<Instances> decode_write(const ObjectDef& def, const Path& target, uint16_t content_format,
                               const uint8_t* data, size_t len);

// Encodes `data` for `target` (/o, /o/i or /o/i/r): TLV Object Instance
// records for /o, resource records for /o/i (as a Read answer carries them),
// one record for /o/i/r; plain text and opaque only for a single-instance
// /o/i/r. SenML: one record per value, "bn" /o/ for an object and /o/i/ for
// an instance or resource, names relative to it ("0/1", "7/0"). Every
// resource must be in `def`, hold its type's alternative and, when the
// definition says single, keep its value under key 0. Codes: kUnsupported
// for a content format not encoded here, kInvalidArgument otherwise.
Result<Bytes> encode(const ObjectDef& def, const Path& target, const Instances& data,
                     uint16_t content_format);

}  // namespace hil::lwm2m::content
