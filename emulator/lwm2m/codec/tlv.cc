#include "emulator/lwm2m/codec/tlv.h"

#include <cstring>
#include <string>

namespace hil::lwm2m::tlv {
namespace {

bool may_contain(Type parent, Type child) {
  if (parent == Type::ObjectInstance) {
    return child == Type::Resource || child == Type::MultipleResource;
  }
  return child == Type::ResourceInstance;  // parent is MultipleResource
}

std::string describe(Type t, uint16_t id) {
  return std::string(to_string(t)) + " " + std::to_string(id);
}

// Decodes records in data[begin, end). `parent` is the container they nest in,
// null at the top level; offsets in messages count from the start of `data`.
Result<std::vector<Record>> decode_range(const uint8_t* data, size_t begin, size_t end,
                                         const Record* parent) {
  std::vector<Record> out;
  size_t pos = begin;
  while (pos < end) {
    const size_t start = pos;
    const uint8_t head = data[pos];
    const size_t id_len = (head & 0x20) ? 2 : 1;
    const size_t len_len = (head >> 3) & 0x3;
    const size_t header_len = 1 + id_len + len_len;
    if (end - pos < header_len) {
      return Error{ErrorCode::kInvalidArgument, "TLV record at offset " + std::to_string(start) +
                                                    " is truncated: its header needs " +
                                                    std::to_string(header_len) + " bytes, " +
                                                    std::to_string(end - pos) + " left"};
    }
    Record r;
    r.type = static_cast<Type>(head >> 6);
    ++pos;
    r.id = data[pos++];
    if (id_len == 2) r.id = static_cast<uint16_t>(r.id << 8 | data[pos++]);
    size_t value_len = head & 0x7;
    if (len_len > 0) {
      value_len = 0;
      for (size_t i = 0; i < len_len; ++i) value_len = value_len << 8 | data[pos++];
    }
    if (parent != nullptr && !may_contain(parent->type, r.type)) {
      return Error{
          ErrorCode::kInvalidArgument,
          "TLV " + describe(parent->type, parent->id) + " contains " + describe(r.type, r.id) +
              " at offset " + std::to_string(start) + "; " +
              (parent->type == Type::ObjectInstance ? "only Resource and Multiple Resource records"
                                                    : "only Resource Instance records") +
              " may nest there"};
    }
    if (end - pos < value_len) {
      return Error{ErrorCode::kInvalidArgument,
                   "TLV " + describe(r.type, r.id) + " at offset " + std::to_string(start) +
                       " claims " + std::to_string(value_len) + " value bytes, only " +
                       std::to_string(end - pos) + " left"};
    }
    if (r.type == Type::ObjectInstance || r.type == Type::MultipleResource) {
      HIL_TRY_ASSIGN(std::vector<Record> children, decode_range(data, pos, pos + value_len, &r));
      r.children = std::move(children);
    } else {
      r.value.assign(data + pos, data + pos + value_len);
    }
    pos += value_len;
    out.push_back(std::move(r));
  }
  return out;
}

void append_record(const Record& r, Bytes& out) {
  Bytes nested;
  const Bytes* value = &r.value;
  if (r.type == Type::ObjectInstance || r.type == Type::MultipleResource) {
    nested = encode(r.children);
    value = &nested;
  }
  const size_t len = value->size();
  uint8_t head = static_cast<uint8_t>(static_cast<uint8_t>(r.type) << 6);
  if (r.id > 0xff) head |= 0x20;
  size_t len_len = 0;
  if (len <= 7) {
    head |= static_cast<uint8_t>(len);
  } else {
    len_len = len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;
    head |= static_cast<uint8_t>(len_len << 3);
  }
  out.push_back(head);
  if (r.id > 0xff) out.push_back(static_cast<uint8_t>(r.id >> 8));
  out.push_back(static_cast<uint8_t>(r.id));
  for (size_t i = len_len; i > 0; --i) {
    out.push_back(static_cast<uint8_t>(len >> (8 * (i - 1))));
  }
  out.insert(out.end(), value->begin(), value->end());
}

Bytes big_endian(uint64_t v, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[n - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

Result<uint64_t> read_big_endian(const Bytes& b, const char* what) {
  if (b.size() != 1 && b.size() != 2 && b.size() != 4 && b.size() != 8) {
    return Error{ErrorCode::kInvalidArgument,
                 std::string(what) + " needs 1, 2, 4 or 8 bytes, got " + std::to_string(b.size())};
  }
  uint64_t v = 0;
  for (uint8_t byte : b) v = v << 8 | byte;
  return v;
}

Error type_mismatch(ResourceType t, const Value& v) {
  return Error{ErrorCode::kInvalidArgument,
               std::string("value ") + to_display(v) + " is not of type " + to_string(t)};
}

template <typename T>
Result<Value> widen(Result<T> r) {
  if (!r) return r.error();
  return Value(*r);
}

}  // namespace

const char* to_string(Type t) {
  switch (t) {
    case Type::ObjectInstance:
      return "Object Instance";
    case Type::ResourceInstance:
      return "Resource Instance";
    case Type::MultipleResource:
      return "Multiple Resource";
    case Type::Resource:
      return "Resource";
  }
  return "?";
}

Result<std::vector<Record>> decode(const uint8_t* data, size_t len) {
  return decode_range(data, 0, len, nullptr);
}

Bytes encode(const std::vector<Record>& records) {
  Bytes out;
  for (const Record& r : records) append_record(r, out);
  return out;
}

Bytes encode_int(int64_t v) {
  for (size_t n : {1, 2, 4}) {
    const int64_t lo = -(int64_t{1} << (8 * n - 1));
    if (v >= lo && v < -lo) return big_endian(static_cast<uint64_t>(v), n);
  }
  return big_endian(static_cast<uint64_t>(v), 8);
}

Result<int64_t> decode_int(const Bytes& b) {
  HIL_TRY_ASSIGN(uint64_t raw, read_big_endian(b, "an Integer"));
  // Sign-extend from the top bit of the first byte.
  const unsigned shift = static_cast<unsigned>(64 - 8 * b.size());
  return static_cast<int64_t>(raw << shift) >> shift;
}

Bytes encode_uint(uint64_t v) {
  for (size_t n : {1, 2, 4}) {
    if (v < (uint64_t{1} << (8 * n))) return big_endian(v, n);
  }
  return big_endian(v, 8);
}

Result<uint64_t> decode_uint(const Bytes& b) { return read_big_endian(b, "an Unsigned Integer"); }

Bytes encode_float(double v) {
  const float f = static_cast<float>(v);
  if (static_cast<double>(f) == v) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return big_endian(bits, 4);
  }
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return big_endian(bits, 8);
}

Result<double> decode_float(const Bytes& b) {
  if (b.size() == 4) {
    uint32_t bits = 0;
    for (uint8_t byte : b) bits = bits << 8 | byte;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return static_cast<double>(f);
  }
  if (b.size() == 8) {
    uint64_t bits = 0;
    for (uint8_t byte : b) bits = bits << 8 | byte;
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  return Error{ErrorCode::kInvalidArgument,
               "a Float needs 4 or 8 bytes, got " + std::to_string(b.size())};
}

Bytes encode_bool(bool v) { return Bytes{static_cast<uint8_t>(v ? 1 : 0)}; }

Result<bool> decode_bool(const Bytes& b) {
  if (b.size() != 1) {
    return Error{ErrorCode::kInvalidArgument,
                 "a Boolean needs 1 byte, got " + std::to_string(b.size())};
  }
  if (b[0] > 1) {
    return Error{ErrorCode::kInvalidArgument,
                 "a Boolean must be 0 or 1, got " + std::to_string(b[0])};
  }
  return b[0] == 1;
}

Bytes encode_objlink(ObjLink v) { return big_endian(uint64_t{v.obj} << 16 | v.inst, 4); }

Result<ObjLink> decode_objlink(const Bytes& b) {
  if (b.size() != 4) {
    return Error{ErrorCode::kInvalidArgument,
                 "an Objlnk needs 4 bytes, got " + std::to_string(b.size())};
  }
  return ObjLink{static_cast<uint16_t>(b[0] << 8 | b[1]), static_cast<uint16_t>(b[2] << 8 | b[3])};
}

Result<Bytes> encode_value(ResourceType t, const Value& v) {
  if (!holds_type(v, t)) return type_mismatch(t, v);
  switch (t) {
    case ResourceType::Integer:
    case ResourceType::Time:
      return encode_int(std::get<int64_t>(v));
    case ResourceType::UnsignedInteger:
      return encode_uint(std::get<uint64_t>(v));
    case ResourceType::Float:
      return encode_float(std::get<double>(v));
    case ResourceType::Boolean:
      return encode_bool(std::get<bool>(v));
    case ResourceType::String:
    case ResourceType::CoreLink: {
      const std::string& s = std::get<std::string>(v);
      return Bytes(s.begin(), s.end());
    }
    case ResourceType::Opaque:
      return std::get<Bytes>(v);
    case ResourceType::ObjLink:
      return encode_objlink(std::get<ObjLink>(v));
    case ResourceType::None:
      break;
  }
  return type_mismatch(t, v);
}

Result<Value> decode_value(ResourceType t, const Bytes& b) {
  switch (t) {
    case ResourceType::Integer:
    case ResourceType::Time:
      return widen(decode_int(b));
    case ResourceType::UnsignedInteger:
      return widen(decode_uint(b));
    case ResourceType::Float:
      return widen(decode_float(b));
    case ResourceType::Boolean:
      return widen(decode_bool(b));
    case ResourceType::String:
    case ResourceType::CoreLink: {
      std::string s(b.begin(), b.end());
      if (!is_utf8(s)) return Error{ErrorCode::kInvalidArgument, "a String must be UTF-8"};
      return Value(std::move(s));
    }
    case ResourceType::Opaque:
      return Value(b);
    case ResourceType::ObjLink:
      return widen(decode_objlink(b));
    case ResourceType::None:
      break;
  }
  return Error{ErrorCode::kInvalidArgument, "an executable resource carries no value"};
}

}  // namespace hil::lwm2m::tlv
