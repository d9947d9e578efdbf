#include "emulator/lwm2m/codec/senml.h"

#include <cmath>
#include <string>

#include "emulator/lwm2m/codec/text.h"

namespace hil::lwm2m::senml {
namespace {

// 2^63 and 2^64 as doubles: integral doubles below them convert exactly.
constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

std::string show(const Number& n) {
  if (auto* i = std::get_if<int64_t>(&n)) return std::to_string(*i);
  if (auto* u = std::get_if<uint64_t>(&n)) return std::to_string(*u);
  return shortest_decimal(std::get<double>(n));
}

Error wrong_field(ResourceType t, Field want, const Record& r) {
  std::string got = r.field == Field::None ? std::string("no value")
                                           : std::string("\"") + field_name(r.field) + "\"";
  return Error{ErrorCode::kInvalidArgument, std::string(to_string(t)) + " needs a \"" +
                                                field_name(want) + "\" value, got " + got};
}

Result<Value> to_int(const Number& n) {
  if (auto* i = std::get_if<int64_t>(&n)) return Value(*i);
  if (auto* u = std::get_if<uint64_t>(&n)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) {
      return Error{ErrorCode::kInvalidArgument,
                   show(n) + " is out of range for an Integer (64 bits, signed)"};
    }
    return Value(static_cast<int64_t>(*u));
  }
  const double d = std::get<double>(n);
  if (!std::isfinite(d) || std::trunc(d) != d)
    return Error{ErrorCode::kInvalidArgument, show(n) + " is not an integer"};
  if (d < -kTwo63 || d >= kTwo63) {
    return Error{ErrorCode::kInvalidArgument,
                 show(n) + " is out of range for an Integer (64 bits, signed)"};
  }
  return Value(static_cast<int64_t>(d));
}

Result<Value> to_uint(const Number& n) {
  if (auto* u = std::get_if<uint64_t>(&n)) return Value(*u);
  if (std::holds_alternative<int64_t>(n)) {
    return Error{ErrorCode::kInvalidArgument,
                 show(n) + " is negative; an Unsigned Integer cannot be"};
  }
  const double d = std::get<double>(n);
  if (!std::isfinite(d) || std::trunc(d) != d)
    return Error{ErrorCode::kInvalidArgument, show(n) + " is not an integer"};
  if (d < 0 && d != 0)
    return Error{ErrorCode::kInvalidArgument,
                 show(n) + " is negative; an Unsigned Integer cannot be"};
  if (d >= kTwo64)
    return Error{ErrorCode::kInvalidArgument,
                 show(n) + " is out of range for an Unsigned Integer (64 bits)"};
  return Value(static_cast<uint64_t>(d));
}

double to_double(const Number& n) {
  if (auto* i = std::get_if<int64_t>(&n)) return static_cast<double>(*i);
  if (auto* u = std::get_if<uint64_t>(&n)) return static_cast<double>(*u);
  return std::get<double>(n);
}

bool same_number(const Number& a, const Number& b) {
  return a.index() == b.index() && a == b;  // double == is IEEE: NaN != NaN
}

}  // namespace

const char* field_name(Field f) {
  switch (f) {
    case Field::None:
      return "no value";
    case Field::Number:
      return "v";
    case Field::String:
      return "vs";
    case Field::Boolean:
      return "vb";
    case Field::Data:
      return "vd";
    case Field::ObjLink:
      return "vlo";
  }
  return "?";
}

bool Record::operator==(const Record& o) const {
  if (name != o.name || field != o.field) return false;
  switch (field) {
    case Field::None:
      return true;
    case Field::Number:
      return same_number(number, o.number);
    case Field::String:
    case Field::ObjLink:
      return text == o.text;
    case Field::Boolean:
      return boolean == o.boolean;
    case Field::Data:
      return data == o.data;
  }
  return false;
}

Result<Value> to_value(ResourceType t, const Record& r) {
  switch (t) {
    case ResourceType::String:
    case ResourceType::CoreLink:
      if (r.field != Field::String) return wrong_field(t, Field::String, r);
      if (!is_utf8(r.text)) return Error{ErrorCode::kInvalidArgument, "a String must be UTF-8"};
      return Value(r.text);
    case ResourceType::Integer:
    case ResourceType::Time:
      if (r.field != Field::Number) return wrong_field(t, Field::Number, r);
      return to_int(r.number);
    case ResourceType::UnsignedInteger:
      if (r.field != Field::Number) return wrong_field(t, Field::Number, r);
      return to_uint(r.number);
    case ResourceType::Float:
      if (r.field != Field::Number) return wrong_field(t, Field::Number, r);
      return Value(to_double(r.number));
    case ResourceType::Boolean:
      if (r.field != Field::Boolean) return wrong_field(t, Field::Boolean, r);
      return Value(r.boolean);
    case ResourceType::Opaque:
      if (r.field != Field::Data) return wrong_field(t, Field::Data, r);
      return Value(r.data);
    case ResourceType::ObjLink: {
      if (r.field != Field::ObjLink) return wrong_field(t, Field::ObjLink, r);
      const auto* p = reinterpret_cast<const uint8_t*>(r.text.data());
      return text::decode(ResourceType::ObjLink, p, r.text.size());
    }
    case ResourceType::None:
      break;
  }
  return Error{ErrorCode::kInvalidArgument, "is executable and carries no value"};
}

Status check_name(const Record& r, const std::string& base_name, const std::string& where) {
  if (r.name.compare(0, base_name.size(), base_name) != 0) {
    return Error{
        ErrorCode::kInvalidArgument,
        where + "name '" + r.name + "' does not start with the base name '" + base_name + "'"};
  }
  if (r.name.empty()) return Error{ErrorCode::kInvalidArgument, where + "a record needs a name"};
  if (!is_utf8(r.name)) return Error{ErrorCode::kInvalidArgument, where + "the name is not UTF-8"};
  return ok_status();
}

Status set_value(ResourceType t, const Value& v, Record& r) {
  if (t == ResourceType::None)
    return Error{ErrorCode::kInvalidArgument, "is executable and carries no value"};
  if (!holds_type(v, t)) {
    return Error{ErrorCode::kInvalidArgument,
                 "value " + to_display(v) + " is not of type " + to_string(t)};
  }
  if (auto* i = std::get_if<int64_t>(&v)) {
    r.field = Field::Number;
    r.number = *i < 0 ? Number(*i) : Number(static_cast<uint64_t>(*i));
  } else if (auto* u = std::get_if<uint64_t>(&v)) {
    r.field = Field::Number;
    r.number = *u;
  } else if (auto* d = std::get_if<double>(&v)) {
    r.field = Field::Number;
    r.number = *d;
  } else if (auto* b = std::get_if<bool>(&v)) {
    r.field = Field::Boolean;
    r.boolean = *b;
  } else if (auto* s = std::get_if<std::string>(&v)) {
    if (!is_utf8(*s))
      return Error{ErrorCode::kInvalidArgument, "a String must be UTF-8 to travel in SenML"};
    r.field = Field::String;
    r.text = *s;
  } else if (auto* o = std::get_if<ObjLink>(&v)) {
    r.field = Field::ObjLink;
    r.text = std::to_string(o->obj) + ":" + std::to_string(o->inst);
  } else {
    r.field = Field::Data;
    r.data = std::get<Bytes>(v);
  }
  return ok_status();
}

}  // namespace hil::lwm2m::senml
