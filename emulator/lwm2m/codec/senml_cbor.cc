#include "emulator/lwm2m/codec/senml_cbor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>

namespace hil::lwm2m::senml_cbor {
namespace {

using senml::Field;
using senml::Number;
using senml::Record;

// RFC 8428 section 6 labels.
// bver (-1), bt (-3), bu (-4), u (1), t (6) and ut (7) are skipped.
constexpr int64_t kBaseName = -2, kBaseValue = -5, kBaseSum = -6, kName = 0, kValue = 2,
                  kStringValue = 3, kBoolValue = 4, kSum = 5, kDataValue = 8;

enum Major : uint8_t {
  kUint = 0,
  kNegint = 1,
  kBytes = 2,
  kText = 3,
  kArray = 4,
  kMap = 5,
  kTag = 6,
  kSimple = 7
};

struct Head {
  uint8_t major = 0;
  uint8_t info = 0;  // additional information (low five bits)
  uint64_t arg = 0;
  bool indefinite = false;
  size_t pos = 0;  // offset of the initial byte
};

double half_to_double(uint16_t h) {
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant != 0 ? std::numeric_limits<double>::quiet_NaN()
                  : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(mant + 1024, exp - 25);
  }
  return (h & 0x8000) != 0 ? -v : v;
}

// The half-precision bits of `f` when it holds `f` exactly (not NaN).
bool float_to_half(float f, uint16_t* out) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const int exp = static_cast<int>((u >> 23) & 0xFF);
  const uint32_t mant = u & 0x7FFFFF;
  if (exp == 0xFF) {  // infinity
    *out = sign | 0x7C00;
    return true;
  }
  if (exp == 0) {  // zero; float subnormals are below every half
    if (mant != 0) return false;
    *out = sign;
    return true;
  }
  const int e = exp - 127;
  if (e >= -14 && e <= 15) {
    if ((mant & 0x1FFF) != 0) return false;
    *out = static_cast<uint16_t>(sign | ((e + 15) << 10) | (mant >> 13));
    return true;
  }
  if (e >= -24 && e < -14) {  // a half subnormal: m * 2^-24
    const uint32_t full = mant | 0x800000;
    const int shift = -(e + 1);
    if ((full & ((uint32_t{1} << shift) - 1)) != 0) return false;
    *out = static_cast<uint16_t>(sign | (full >> shift));
    return true;
  }
  return false;
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t len) : d_(data), n_(len) {}

  Result<std::vector<Record>> pack() {
    HIL_TRY_ASSIGN(Head h, head());
    if (h.major != kArray) return fail_at(h.pos, "a SenML pack must be a CBOR array of records");
    std::vector<Record> out;
    std::string base;
    for (uint64_t i = 0; h.indefinite || i < h.arg; ++i) {
      if (h.indefinite && eat_break()) break;
      record_ = static_cast<long>(out.size());
      HIL_TRY_ASSIGN(Record r, record(base));
      out.push_back(std::move(r));
      record_ = -1;
    }
    if (pos_ != n_) return fail("trailing bytes after the pack");
    return out;
  }

 private:
  Error fail(const std::string& what) const { return fail_at(pos_, what); }
  Error fail_at(size_t pos, const std::string& what) const {
    std::string where = "SenML-CBOR ";
    if (record_ >= 0) where += "record " + std::to_string(record_) + ", ";
    return Error{ErrorCode::kInvalidArgument, where + "byte " + std::to_string(pos) + ": " + what};
  }

  bool eat_break() {
    if (pos_ < n_ && d_[pos_] == 0xFF) {
      ++pos_;
      return true;
    }
    return false;
  }

  Result<Head> head() {
    Head h;
    h.pos = pos_;
    if (pos_ >= n_) return fail("unexpected end of input");
    const uint8_t b = d_[pos_++];
    h.major = b >> 5;
    h.info = b & 0x1F;
    if (h.info < 24) {
      h.arg = h.info;
    } else if (h.info <= 27) {
      const size_t width = size_t{1} << (h.info - 24);
      if (n_ - pos_ < width) return fail("unexpected end of input");
      for (size_t i = 0; i < width; ++i) h.arg = (h.arg << 8) | d_[pos_++];
    } else if (h.info <= 30) {
      return fail_at(h.pos, "reserved additional information " + std::to_string(h.info));
    } else {
      switch (h.major) {
        case kArray:
        case kMap:
          h.indefinite = true;
          break;
        case kBytes:
        case kText:
          return fail_at(h.pos, "indefinite-length (chunked) strings are not supported");
        case kSimple:
          return fail_at(h.pos, "unexpected break");
        default:
          return fail_at(
              h.pos, "major type " + std::to_string(h.major) + " cannot have an indefinite length");
      }
    }
    if (h.major == kTag) return fail_at(h.pos, "CBOR tags are not supported");
    if (h.major == kSimple && h.info == 24 && h.arg < 32) {
      return fail_at(h.pos, "malformed two-byte simple value");
    }
    return h;
  }

  Result<std::string> string_body(const Head& h) {
    if (h.arg > n_ - pos_) return fail("unexpected end of input");
    std::string s(reinterpret_cast<const char*>(d_ + pos_), static_cast<size_t>(h.arg));
    pos_ += static_cast<size_t>(h.arg);
    if (h.major == kText && !is_utf8(s)) return fail_at(h.pos, "text string is not UTF-8");
    return s;
  }

  Result<std::string> text(const char* field) {
    HIL_TRY_ASSIGN(Head h, head());
    if (h.major != kText) return fail_at(h.pos, std::string(field) + " must be a text string");
    return string_body(h);
  }

  Result<Number> number() {
    HIL_TRY_ASSIGN(Head h, head());
    switch (h.major) {
      case kUint:
        return Number(h.arg);
      case kNegint:
        if (h.arg <= static_cast<uint64_t>(INT64_MAX)) {
          return Number(-static_cast<int64_t>(h.arg) - 1);
        }
        return Number(-1.0 - static_cast<double>(h.arg));
      case kSimple:
        if (h.info == 25) return Number(half_to_double(static_cast<uint16_t>(h.arg)));
        if (h.info == 26) {
          const auto bits = static_cast<uint32_t>(h.arg);
          float f;
          std::memcpy(&f, &bits, sizeof f);
          return Number(static_cast<double>(f));
        }
        if (h.info == 27) {
          double d;
          std::memcpy(&d, &h.arg, sizeof d);
          return Number(d);
        }
        break;
      default:
        break;
    }
    return fail_at(h.pos, "v (2) must be an integer or a float");
  }

  Status skip(int depth) {
    HIL_TRY_ASSIGN(Head h, head());
    switch (h.major) {
      case kUint:
      case kNegint:
        return ok_status();
      case kBytes:
      case kText: {
        HIL_TRY(string_body(h));
        return ok_status();
      }
      case kArray:
      case kMap: {
        if (depth + 1 > kMaxDepth) {
          return fail_at(h.pos, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
        }
        const int per_entry = h.major == kMap ? 2 : 1;
        for (uint64_t i = 0; h.indefinite || i < h.arg; ++i) {
          if (h.indefinite && eat_break()) break;
          for (int k = 0; k < per_entry; ++k) {
            HIL_TRY(skip(depth + 1));
          }
        }
        return ok_status();
      }
      default:  // kSimple; head() has rejected tags
        if ((h.info >= 20 && h.info <= 23) || (h.info >= 25 && h.info <= 27)) {
          return ok_status();
        }
        return fail_at(h.pos, "simple value " + std::to_string(h.arg) + " is not supported");
    }
  }

  // A map key: an integer label, or a text key (as is_text with the text).
  struct Key {
    bool is_text = false;
    int64_t label = 0;
    bool label_fits = true;
    std::string text;
    std::string shown() const {
      if (is_text) return "\"" + text + "\"";
      if (label_fits) return std::to_string(label);
      return label > 0 ? text : "-1-" + text;  // beyond 64-bit signed range
    }
    // Distinct for distinct keys, including labels beyond 64 bits.
    std::string id() const {
      if (is_text) return "t" + text;
      return label_fits ? "i" + std::to_string(label) : (label > 0 ? "u" : "n") + text;
    }
  };

  Result<Key> key() {
    HIL_TRY_ASSIGN(Head h, head());
    Key k;
    if (h.major == kUint || h.major == kNegint) {
      if (h.arg > static_cast<uint64_t>(INT64_MAX)) {
        k.label_fits = false;  // an unknown label either way; keep it distinct
        k.label = h.major == kUint ? 1 : -1;
        k.text = std::to_string(h.arg);
      } else {
        const auto a = static_cast<int64_t>(h.arg);
        k.label = h.major == kUint ? a : -a - 1;
      }
      return k;
    }
    if (h.major == kText) {
      HIL_TRY_ASSIGN(std::string s, string_body(h));
      k.is_text = true;
      k.text = std::move(s);
      return k;
    }
    return fail_at(h.pos, "map keys must be integer labels or text");
  }

  Result<Record> record(std::string& base) {
    HIL_TRY_ASSIGN(Head m, head());
    if (m.major != kMap) return fail_at(m.pos, "a record must be a CBOR map");
    Record r;
    std::string name;
    std::set<std::string> seen;  // Key::id(); many unknown keys stay cheap
    for (uint64_t i = 0; m.indefinite || i < m.arg; ++i) {
      if (m.indefinite && eat_break()) break;
      const size_t key_pos = pos_;
      HIL_TRY_ASSIGN(Key k, key());
      if (!seen.insert(k.id()).second) {
        return fail_at(key_pos, "duplicate key " + k.shown());
      }
      const size_t value_pos = pos_;
      Field field = Field::None;
      const bool label = !k.is_text && k.label_fits;
      if (label && (k.label == kBaseName || k.label == kName)) {
        HIL_TRY_ASSIGN(std::string s, text(k.label == kBaseName ? "bn (-2)" : "n (0)"));
        (k.label == kBaseName ? base : name) = std::move(s);
      } else if (label && k.label == kValue) {
        HIL_TRY_ASSIGN(Number n, number());
        field = Field::Number;
        r.number = n;
      } else if ((label && k.label == kStringValue) || (k.is_text && k.text == "vlo")) {
        HIL_TRY_ASSIGN(std::string s, text(k.is_text ? "vlo" : "vs (3)"));
        field = k.is_text ? Field::ObjLink : Field::String;
        r.text = std::move(s);
      } else if (label && k.label == kBoolValue) {
        HIL_TRY_ASSIGN(Head h, head());
        if (h.major != kSimple || (h.info != 20 && h.info != 21)) {
          return fail_at(value_pos, "vb (4) must be true or false");
        }
        field = Field::Boolean;
        r.boolean = h.info == 21;
      } else if (label && k.label == kDataValue) {
        HIL_TRY_ASSIGN(Head h, head());
        if (h.major != kBytes) return fail_at(value_pos, "vd (8) must be a byte string");
        HIL_TRY_ASSIGN(std::string s, string_body(h));
        field = Field::Data;
        r.data.assign(s.begin(), s.end());
      } else if (label && (k.label == kBaseValue || k.label == kBaseSum || k.label == kSum)) {
        return fail_at(key_pos, "label " + k.shown() +
                                    " (base value, base sum or sum) is not supported in LwM2M");
      } else if (k.is_text && !k.text.empty() && k.text.back() == '_') {
        return fail_at(key_pos, "must-understand key " + k.shown() + " is not supported");
      } else {
        // bver, bt, bu, u, t, ut (ignored, as LwM2M allows) and unknown keys.
        HIL_TRY(skip(2));
      }
      if (field != Field::None) {
        if (r.field != Field::None) {
          return fail_at(key_pos, std::string("more than one value field (") +
                                      senml::field_name(r.field) + " and " +
                                      senml::field_name(field) + ")");
        }
        r.field = field;
      }
    }
    r.name = base + name;
    if (r.name.empty()) return fail("the record has no name (no bn in force and no n)");
    return r;
  }

  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  long record_ = -1;
};

void put_head(uint8_t major, uint64_t arg, Bytes& out) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(static_cast<uint8_t>(m | arg));
    return;
  }
  int width;
  if (arg <= 0xFF) {
    out.push_back(m | 24);
    width = 1;
  } else if (arg <= 0xFFFF) {
    out.push_back(m | 25);
    width = 2;
  } else if (arg <= 0xFFFFFFFF) {
    out.push_back(m | 26);
    width = 4;
  } else {
    out.push_back(m | 27);
    width = 8;
  }
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(arg >> (8 * i)));
}

void put_string(uint8_t major, const std::string& s, Bytes& out) {
  put_head(major, s.size(), out);
  out.insert(out.end(), s.begin(), s.end());
}

void put_label(int64_t label, Bytes& out) {
  if (label >= 0) {
    put_head(kUint, static_cast<uint64_t>(label), out);
  } else {
    put_head(kNegint, static_cast<uint64_t>(-(label + 1)), out);
  }
}

void put_double(double d, Bytes& out) {
  if (std::isnan(d)) {
    out.insert(out.end(), {0xF9, 0x7E, 0x00});
    return;
  }
  const auto f = static_cast<float>(d);
  if (static_cast<double>(f) == d) {
    uint16_t h;
    if (float_to_half(f, &h)) {
      out.insert(out.end(), {0xF9, static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h)});
      return;
    }
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    out.push_back(0xFA);
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    return;
  }
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  out.push_back(0xFB);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

void put_number(const Number& n, Bytes& out) {
  if (auto* u = std::get_if<uint64_t>(&n)) {
    put_head(kUint, *u, out);
  } else if (auto* i = std::get_if<int64_t>(&n)) {
    if (*i >= 0) {
      put_head(kUint, static_cast<uint64_t>(*i), out);
    } else {
      put_head(kNegint, ~static_cast<uint64_t>(*i), out);  // -1 - i
    }
  } else {
    put_double(std::get<double>(n), out);
  }
}

}  // namespace

Result<std::vector<Record>> decode(const uint8_t* data, size_t len) {
  return Reader(data, len).pack();
}

Result<Bytes> encode(const std::vector<Record>& records, const std::string& base_name) {
  Bytes out;
  put_head(kArray, records.size(), out);
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string where = "SenML-CBOR record " + std::to_string(i) + ": ";
    HIL_TRY(check_name(r, base_name, where));
    const bool with_base = i == 0 && !base_name.empty();
    const std::string rest = r.name.substr(base_name.size());
    put_head(kMap, (with_base ? 1 : 0) + (rest.empty() ? 0 : 1) + (r.field == Field::None ? 0 : 1),
             out);
    if (with_base) {
      put_label(kBaseName, out);
      put_string(kText, base_name, out);
    }
    if (!rest.empty()) {
      put_label(kName, out);
      put_string(kText, rest, out);
    }
    switch (r.field) {
      case Field::None:
        break;
      case Field::Number:
        put_label(kValue, out);
        put_number(r.number, out);
        break;
      case Field::String:
        if (!is_utf8(r.text))
          return Error{ErrorCode::kInvalidArgument, where + "the string is not UTF-8"};
        put_label(kStringValue, out);
        put_string(kText, r.text, out);
        break;
      case Field::ObjLink:
        if (!is_utf8(r.text))
          return Error{ErrorCode::kInvalidArgument, where + "the string is not UTF-8"};
        put_string(kText, "vlo", out);
        put_string(kText, r.text, out);
        break;
      case Field::Boolean:
        put_label(kBoolValue, out);
        out.push_back(r.boolean ? 0xF5 : 0xF4);
        break;
      case Field::Data:
        put_label(kDataValue, out);
        put_head(kBytes, r.data.size(), out);
        out.insert(out.end(), r.data.begin(), r.data.end());
        break;
    }
  }
  return out;
}

}  // namespace hil::lwm2m::senml_cbor
