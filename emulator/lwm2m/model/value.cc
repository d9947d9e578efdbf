#include "emulator/lwm2m/model/value.h"

#include <cstdio>
#include <cstdlib>

namespace hil::lwm2m {

const char* to_string(ResourceType t) {
  switch (t) {
    case ResourceType::String:
      return "String";
    case ResourceType::Integer:
      return "Integer";
    case ResourceType::UnsignedInteger:
      return "Unsigned Integer";
    case ResourceType::Float:
      return "Float";
    case ResourceType::Boolean:
      return "Boolean";
    case ResourceType::Opaque:
      return "Opaque";
    case ResourceType::Time:
      return "Time";
    case ResourceType::ObjLink:
      return "Objlnk";
    case ResourceType::CoreLink:
      return "Corelnk";
    case ResourceType::None:
      return "none";
  }
  return "?";
}

bool holds_type(const Value& v, ResourceType t) {
  switch (t) {
    case ResourceType::Integer:
    case ResourceType::Time:
      return std::holds_alternative<int64_t>(v);
    case ResourceType::UnsignedInteger:
      return std::holds_alternative<uint64_t>(v);
    case ResourceType::Float:
      return std::holds_alternative<double>(v);
    case ResourceType::Boolean:
      return std::holds_alternative<bool>(v);
    case ResourceType::String:
    case ResourceType::CoreLink:
      return std::holds_alternative<std::string>(v);
    case ResourceType::Opaque:
      return std::holds_alternative<std::vector<uint8_t>>(v);
    case ResourceType::ObjLink:
      return std::holds_alternative<ObjLink>(v);
    case ResourceType::None:
      return false;
  }
  return false;
}

std::string shortest_decimal(double d) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

namespace {

// Long opaque values would swamp a timeline line; the length tells enough.
constexpr size_t kMaxShownBytes = 16;

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (size_t i = 0; i < bytes.size() && i < kMaxShownBytes; ++i) {
    s += kDigits[bytes[i] >> 4];
    s += kDigits[bytes[i] & 0xf];
  }
  if (bytes.size() > kMaxShownBytes) s += "...";
  return s + " (" + std::to_string(bytes.size()) + " bytes)";
}

}  // namespace

std::string to_display(const Value& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  if (auto* d = std::get_if<double>(&v)) return shortest_decimal(*d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  if (auto* o = std::get_if<ObjLink>(&v)) {
    return std::to_string(o->obj) + ":" + std::to_string(o->inst);
  }
  return hex(std::get<std::vector<uint8_t>>(v));
}

bool is_utf8(const std::string& s) {
  static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // shortest form
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n;  // continuation bytes
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 0x6) {
      n = 1;
    } else if ((c >> 4) == 0xE) {
      n = 2;
    } else if ((c >> 3) == 0x1E) {
      n = 3;
    } else {
      return false;
    }
    if (n > s.size() - i - 1) return false;
    uint32_t cp = n == 0 ? c : c & (0x3Fu >> n);
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = cp << 6 | (cc & 0x3Fu);
    }
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace hil::lwm2m
