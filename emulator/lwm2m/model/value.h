// Resource values and their LwM2M data types.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace hil::lwm2m {

enum class ResourceType : uint8_t {
  String,
  Integer,
  UnsignedInteger,
  Float,
  Boolean,
  Opaque,
  Time,  // seconds since the epoch, held as Integer
  ObjLink,
  CoreLink,  // held as String
  None,      // executable resources carry no value
};

const char* to_string(ResourceType t);

struct ObjLink {
  uint16_t obj = 0;
  uint16_t inst = 0;
  bool operator==(const ObjLink& o) const { return obj == o.obj && inst == o.inst; }
};

// The held alternative follows the resource's type: Integer and Time hold
// int64_t, UnsignedInteger uint64_t, Float double, Boolean bool, String and
// CoreLink std::string, Opaque Bytes, ObjLink ObjLink.
using Value =
    std::variant<int64_t, uint64_t, double, bool, std::string, std::vector<uint8_t>, ObjLink>;

// True when `v` holds the alternative that `t` calls for.
bool holds_type(const Value& v, ResourceType t);
std::string to_display(const Value& v);  // for timelines and errors
// The shortest decimal that reads back as the same double ("0.1", "1e+20"),
// so plain text and displays do not show float noise like 0.10000000000000001.
std::string shortest_decimal(double d);

// LwM2M strings are UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_utf8(const std::string& s);

}  // namespace hil::lwm2m
