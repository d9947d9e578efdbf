// Plain text (content format 0) and opaque (42): one resource value per
// payload, so these only serve requests on a single resource.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/value.h"

namespace hil::lwm2m::text {

// Integer and Time in decimal, Unsigned without a sign, Float in decimal or
// exponent notation (no inf or nan), Boolean "0" or "1", ObjLink "3:0",
// String and CoreLink as they are. Opaque is an error: LwM2M 1.0 defines no
// text form for it.
Result<Bytes> encode(ResourceType t, const Value& v);
Result<Value> decode(ResourceType t, const uint8_t* data, size_t len);

}  // namespace hil::lwm2m::text

namespace hil::lwm2m::opaque {

// Only Opaque resources: the payload is the value's bytes.
Result<Bytes> encode(ResourceType t, const Value& v);
Result<Value> decode(ResourceType t, const uint8_t* data, size_t len);

}  // namespace hil::lwm2m::opaque
