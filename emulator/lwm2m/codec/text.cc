#include "emulator/lwm2m/codec/text.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace hil::lwm2m {
namespace {

Error not_for_type(const char* format, ResourceType t) {
  return Error{ErrorCode::kInvalidArgument,
               std::string(format) + " cannot carry " + to_string(t) + " values"};
}

Error not_a(const std::string& text, const char* what) {
  return Error{ErrorCode::kInvalidArgument, "'" + text + "' is not " + what};
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits only; false on overflow past `max`.
bool parse_unsigned(const std::string& s, uint64_t max, uint64_t* out) {
  if (!all_digits(s)) return false;
  uint64_t v = 0;
  for (char c : s) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

Result<Value> parse_int(const std::string& s) {
  const bool negative = !s.empty() && s[0] == '-';
  const uint64_t limit = uint64_t{INT64_MAX} + (negative ? 1 : 0);
  uint64_t magnitude;
  if (!parse_unsigned(s.substr(negative ? 1 : 0), limit, &magnitude)) {
    return not_a(s, "an Integer (decimal digits, optional '-', 64 bits)");
  }
  // Negating in unsigned arithmetic keeps INT64_MIN representable.
  const uint64_t bits = negative ? ~magnitude + 1 : magnitude;
  return Value(static_cast<int64_t>(bits));
}

// [-+]digits[.digits][(e|E)[-+]digits]; strtod alone would also take hex,
// inf, nan and leading spaces.
bool is_decimal(const std::string& s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

Result<Value> parse_float(const std::string& s) {
  if (!is_decimal(s)) return not_a(s, "a Float (decimal, e.g. 1.5 or -2e3)");
  const double d = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(d)) return not_a(s, "a Float within double range");
  return Value(d);
}

Result<Value> parse_objlink(const std::string& s) {
  const size_t colon = s.find(':');
  uint64_t obj, inst;
  if (colon == std::string::npos || !parse_unsigned(s.substr(0, colon), 0xffff, &obj) ||
      !parse_unsigned(s.substr(colon + 1), 0xffff, &inst)) {
    return not_a(s, "an Objlnk (obj:inst, each 0..65535)");
  }
  return Value(ObjLink{static_cast<uint16_t>(obj), static_cast<uint16_t>(inst)});
}

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

}  // namespace

namespace text {

Result<Bytes> encode(ResourceType t, const Value& v) {
  if (t == ResourceType::Opaque || t == ResourceType::None) {
    return not_for_type("plain text", t);
  }
  if (!holds_type(v, t)) {
    return Error{ErrorCode::kInvalidArgument,
                 "value " + to_display(v) + " is not of type " + to_string(t)};
  }
  if (auto* i = std::get_if<int64_t>(&v)) return bytes_of(std::to_string(*i));
  if (auto* u = std::get_if<uint64_t>(&v)) return bytes_of(std::to_string(*u));
  if (auto* b = std::get_if<bool>(&v)) return bytes_of(*b ? "1" : "0");
  if (auto* s = std::get_if<std::string>(&v)) return bytes_of(*s);
  if (auto* o = std::get_if<ObjLink>(&v)) {
    return bytes_of(std::to_string(o->obj) + ":" + std::to_string(o->inst));
  }
  const double d = std::get<double>(v);
  if (!std::isfinite(d)) {
    return Error{ErrorCode::kInvalidArgument,
                 "plain text has no form for the Float " + to_display(v)};
  }
  return bytes_of(shortest_decimal(d));
}

Result<Value> decode(ResourceType t, const uint8_t* data, size_t len) {
  const std::string s(reinterpret_cast<const char*>(data), len);
  switch (t) {
    case ResourceType::String:
    case ResourceType::CoreLink:
      if (!is_utf8(s)) return Error{ErrorCode::kInvalidArgument, "a String must be UTF-8"};
      return Value(s);
    case ResourceType::Integer:
    case ResourceType::Time:
      return parse_int(s);
    case ResourceType::UnsignedInteger: {
      uint64_t u;
      if (!parse_unsigned(s, UINT64_MAX, &u)) {
        return not_a(s, "an Unsigned Integer (decimal digits, 64 bits)");
      }
      return Value(u);
    }
    case ResourceType::Float:
      return parse_float(s);
    case ResourceType::Boolean:
      if (s == "0" || s == "1") return Value(s == "1");
      return not_a(s, "a Boolean (0 or 1)");
    case ResourceType::ObjLink:
      return parse_objlink(s);
    case ResourceType::Opaque:
    case ResourceType::None:
      break;
  }
  return not_for_type("plain text", t);
}

}  // namespace text

namespace opaque {

Result<Bytes> encode(ResourceType t, const Value& v) {
  if (t != ResourceType::Opaque) return not_for_type("opaque", t);
  if (!holds_type(v, t)) {
    return Error{ErrorCode::kInvalidArgument, "value " + to_display(v) + " is not of type Opaque"};
  }
  return std::get<Bytes>(v);
}

Result<Value> decode(ResourceType t, const uint8_t* data, size_t len) {
  if (t != ResourceType::Opaque) return not_for_type("opaque", t);
  return Value(Bytes(data, data + len));
}

}  // namespace opaque
}  // namespace hil::lwm2m
