#include "emulator/lwm2m/codec/senml_json.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

namespace hil::lwm2m::senml_json {
namespace {

using senml::Field;
using senml::Number;
using senml::Record;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  Parser(const uint8_t* data, size_t len) : d_(data), n_(len) {}

  Result<std::vector<Record>> pack() {
    std::vector<Record> out;
    ws();
    if (!eat('[')) return fail("a SenML pack must be a JSON array of records");
    ws();
    if (!eat(']')) {
      std::string base;
      while (true) {
        record_ = static_cast<long>(out.size());
        HIL_TRY_ASSIGN(Record r, record(base));
        out.push_back(std::move(r));
        record_ = -1;
        ws();
        if (eat(',')) continue;
        if (eat(']')) break;
        return fail(at_end() ? "unexpected end of input" : "expected ',' or ']' after a record");
      }
    }
    ws();
    if (!at_end()) return fail("trailing bytes after the pack");
    return out;
  }

 private:
  Error fail(const std::string& what) const { return fail_at(pos_, what); }
  Error fail_at(size_t pos, const std::string& what) const {
    std::string where = "SenML-JSON ";
    if (record_ >= 0) where += "record " + std::to_string(record_) + ", ";
    return Error{ErrorCode::kInvalidArgument, where + "byte " + std::to_string(pos) + ": " + what};
  }

  bool at_end() const { return pos_ >= n_; }
  int peek() const { return at_end() ? -1 : d_[pos_]; }
  void ws() {
    while (!at_end() &&
           (d_[pos_] == ' ' || d_[pos_] == '\t' || d_[pos_] == '\n' || d_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    if (peek() != static_cast<uint8_t>(c)) return false;
    ++pos_;
    return true;
  }

  Status literal(const char* word) {
    const size_t start = pos_;
    for (const char* p = word; *p != '\0'; ++p) {
      if (at_end()) return fail("unexpected end of input");
      if (d_[pos_] != static_cast<uint8_t>(*p)) {
        return fail_at(start, std::string("invalid literal (expected ") + word + ")");
      }
      ++pos_;
    }
    return ok_status();
  }

  Result<uint32_t> hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) return fail("unexpected end of input");
      const uint8_t c = d_[pos_];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return fail("\\u needs four hex digits");
      }
      v = v * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    return v;
  }

  Result<std::string> string() {
    const size_t start = pos_;
    if (!eat('"')) return fail(at_end() ? "unexpected end of input" : "expected a string");
    std::string out;
    while (true) {
      if (at_end()) return fail("unterminated string");
      const uint8_t c = d_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) return fail("control character in a string (must be escaped)");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) return fail("unterminated string");
      const uint8_t e = d_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += static_cast<char>(e);
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          HIL_TRY_ASSIGN(uint32_t cp, hex4());
          uint32_t code = cp;
          if (code >= 0xDC00 && code <= 0xDFFF) {
            return fail("lone low surrogate escape in a string");
          }
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (!eat('\\') || !eat('u')) {
              return fail(at_end() ? "unexpected end of input"
                                   : "high surrogate escape without a low one");
            }
            HIL_TRY_ASSIGN(uint32_t low, hex4());
            if (low < 0xDC00 || low > 0xDFFF) {
              return fail("high surrogate escape without a low one");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(code, out);
          break;
        }
        default:
          return fail_at(pos_ - 2, "invalid escape in a string");
      }
    }
    if (!is_utf8(out)) return fail_at(start, "string is not UTF-8");
    return out;
  }

  Result<Number> number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (!at_end() && d_[pos_] >= '0' && d_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    const bool negative = eat('-');
    if (at_end()) return fail("unexpected end of input");
    if (eat('0')) {
      if (!at_end() && d_[pos_] >= '0' && d_[pos_] <= '9') {
        return fail_at(start, "numbers may not have leading zeros");
      }
    } else if (!digits()) {
      return fail_at(start, "invalid number");
    }
    const size_t int_end = pos_;
    bool integral = true;
    if (eat('.')) {
      integral = false;
      if (!digits()) return fail(at_end() ? "unexpected end of input" : "invalid number");
    }
    if (eat('e') || eat('E')) {
      integral = false;
      if (!eat('+')) eat('-');
      if (!digits()) return fail(at_end() ? "unexpected end of input" : "invalid number");
    }
    const std::string literal(reinterpret_cast<const char*>(d_ + start), pos_ - start);
    if (integral) {
      uint64_t magnitude = 0;
      bool fits = true;
      for (size_t i = start + (negative ? 1 : 0); i < int_end; ++i) {
        const uint64_t digit = d_[i] - '0';
        if (magnitude > (UINT64_MAX - digit) / 10) {
          fits = false;
          break;
        }
        magnitude = magnitude * 10 + digit;
      }
      if (fits && !negative) return Number(magnitude);
      if (fits && magnitude == 0) return Number(uint64_t{0});
      if (fits && magnitude <= uint64_t{INT64_MAX} + 1) {
        return Number(static_cast<int64_t>(~magnitude + 1));
      }
    }
    const double d = std::strtod(literal.c_str(), nullptr);
    if (!std::isfinite(d)) return fail_at(start, "number out of double range");
    return Number(d);
  }

  Status skip_value(int depth) {
    ws();
    const int c = peek();
    if (c == '{' || c == '[') {
      if (depth + 1 > kMaxDepth) {
        return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
      }
      ++pos_;
      const char close = c == '{' ? '}' : ']';
      ws();
      if (eat(close)) return ok_status();
      while (true) {
        if (c == '{') {
          ws();
          HIL_TRY(string());
          ws();
          if (!eat(':')) return fail(at_end() ? "unexpected end of input" : "expected ':'");
        }
        HIL_TRY(skip_value(depth + 1));
        ws();
        if (eat(',')) continue;
        if (eat(close)) return ok_status();
        return fail(at_end() ? "unexpected end of input"
                             : std::string("expected ',' or '") + close + "'");
      }
    }
    if (c == '"') {
      HIL_TRY(string());
      return ok_status();
    }
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    if (c == '-' || (c >= '0' && c <= '9')) {
      HIL_TRY(number());
      return ok_status();
    }
    return fail(c < 0 ? "unexpected end of input" : "expected a JSON value");
  }

  Result<std::string> string_field(const std::string& key) {
    if (peek() != '"') {
      return fail(at_end() ? "unexpected end of input" : "\"" + key + "\" must be a string");
    }
    return string();
  }

  Result<Record> record(std::string& base) {
    ws();
    if (!eat('{')) {
      return fail(at_end() ? "unexpected end of input" : "a record must be a JSON object");
    }
    Record r;
    std::string name;
    std::set<std::string> seen;  // a set: a record may carry many unknown fields
    ws();
    if (!eat('}')) {
      while (true) {
        ws();
        const size_t key_pos = pos_;
        if (peek() != '"')
          return fail(at_end() ? "unexpected end of input" : "expected a field name");
        HIL_TRY_ASSIGN(std::string key, string());
        if (!seen.insert(key).second) {
          return fail_at(key_pos, "duplicate field \"" + key + "\"");
        }
        ws();
        if (!eat(':')) return fail(at_end() ? "unexpected end of input" : "expected ':'");
        ws();
        const size_t value_pos = pos_;
        Field field = Field::None;
        if (key == "bn" || key == "n") {
          HIL_TRY_ASSIGN(std::string s, string_field(key));
          (key == "bn" ? base : name) = std::move(s);
        } else if (key == "v") {
          const int c = peek();
          if (c != '-' && !(c >= '0' && c <= '9')) {
            return fail(c < 0 ? "unexpected end of input" : "\"v\" must be a number");
          }
          HIL_TRY_ASSIGN(Number n, number());
          field = Field::Number;
          r.number = n;
        } else if (key == "vs" || key == "vlo") {
          HIL_TRY_ASSIGN(std::string s, string_field(key));
          field = key == "vs" ? Field::String : Field::ObjLink;
          r.text = std::move(s);
        } else if (key == "vd") {
          HIL_TRY_ASSIGN(std::string s, string_field(key));
          Result<Bytes> b = base64url_decode(s);
          if (!b) return fail_at(value_pos, "\"vd\": " + b.error().message);
          field = Field::Data;
          r.data = std::move(b).value();
        } else if (key == "vb") {
          const int c = peek();
          if (c != 't' && c != 'f') {
            return fail(c < 0 ? "unexpected end of input" : "\"vb\" must be true or false");
          }
          HIL_TRY(literal(c == 't' ? "true" : "false"));
          field = Field::Boolean;
          r.boolean = c == 't';
        } else if (key == "bv" || key == "bs" || key == "s") {
          return fail_at(key_pos, "field \"" + key +
                                      "\" (base value, base sum or sum) is not supported "
                                      "in LwM2M");
        } else if (!key.empty() && key.back() == '_') {
          return fail_at(key_pos, "must-understand field \"" + key + "\" is not supported");
        } else {
          HIL_TRY(skip_value(2));
        }
        if (field != Field::None) {
          if (r.field != Field::None) {
            return fail_at(key_pos, std::string("more than one value field (\"") +
                                        senml::field_name(r.field) + "\" and \"" + key + "\")");
          }
          r.field = field;
        }
        ws();
        if (eat(',')) continue;
        if (eat('}')) break;
        return fail(at_end() ? "unexpected end of input" : "expected ',' or '}'");
      }
    }
    r.name = base + name;
    if (r.name.empty()) return fail("the record has no name (no \"bn\" in force and no \"n\")");
    return r;
  }

  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  long record_ = -1;
};

void append_quoted(const std::string& s, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

Status append_number(const Number& n, std::string& out) {
  if (auto* i = std::get_if<int64_t>(&n)) {
    out += std::to_string(*i);
  } else if (auto* u = std::get_if<uint64_t>(&n)) {
    out += std::to_string(*u);
  } else {
    const double d = std::get<double>(n);
    if (!std::isfinite(d)) {
      return Error{ErrorCode::kInvalidArgument,
                   "SenML-JSON has no form for the Float " + shortest_decimal(d)};
    }
    std::string s = shortest_decimal(d);
    // Keep it a float on the way back: "5" would read as an integer.
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    out += s;
  }
  return ok_status();
}

}  // namespace

std::string base64url_encode(const Bytes& b) {
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    out += kAlphabet[(v >> 18) & 0x3F];
    out += kAlphabet[(v >> 12) & 0x3F];
    out += kAlphabet[(v >> 6) & 0x3F];
    out += kAlphabet[v & 0x3F];
  }
  const size_t rest = b.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{b[i]} << 16;
    out += kAlphabet[(v >> 18) & 0x3F];
    out += kAlphabet[(v >> 12) & 0x3F];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 0x3F];
    out += kAlphabet[(v >> 12) & 0x3F];
    out += kAlphabet[(v >> 6) & 0x3F];
  }
  return out;
}

Result<Bytes> base64url_decode(const std::string& s) {
  size_t len = s.size();
  if (len % 4 == 0 && len > 0 && s[len - 1] == '=') {
    --len;
    if (s[len - 1] == '=') --len;
  }
  if (len % 4 == 1)
    return Error{ErrorCode::kInvalidArgument,
                 "base64url of impossible length " + std::to_string(s.size())};
  Bytes out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const int d = base64url_digit(s[i]);
    if (d < 0) {
      return Error{ErrorCode::kInvalidArgument,
                   "character " + std::to_string(i) +
                       " is not base64url (A-Z a-z 0-9 - _, padding '=' only at the end)"};
    }
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return Error{ErrorCode::kInvalidArgument, "base64url with non-zero trailing bits"};
  return out;
}

Result<std::vector<Record>> decode(const uint8_t* data, size_t len) {
  return Parser(data, len).pack();
}

Result<Bytes> encode(const std::vector<Record>& records, const std::string& base_name) {
  std::string out = "[";
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string where = "SenML-JSON record " + std::to_string(i) + ": ";
    HIL_TRY(check_name(r, base_name, where));
    if (i > 0) out += ',';
    out += '{';
    bool first = true;
    auto key = [&](const char* k) {
      if (!first) out += ',';
      first = false;
      out += '"';
      out += k;
      out += "\":";
    };
    if (i == 0 && !base_name.empty()) {
      key("bn");
      append_quoted(base_name, out);
    }
    const std::string rest = r.name.substr(base_name.size());
    if (!rest.empty()) {
      key("n");
      append_quoted(rest, out);
    }
    if (r.field != Field::None) key(senml::field_name(r.field));
    switch (r.field) {
      case Field::None:
        break;
      case Field::Number: {
        Status s = append_number(r.number, out);
        if (!s) return s.error().prefixed(where);
        break;
      }
      case Field::String:
      case Field::ObjLink:
        if (!is_utf8(r.text))
          return Error{ErrorCode::kInvalidArgument, where + "the string is not UTF-8"};
        append_quoted(r.text, out);
        break;
      case Field::Boolean:
        out += r.boolean ? "true" : "false";
        break;
      case Field::Data:
        out += '"';
        out += base64url_encode(r.data);
        out += '"';
        break;
    }
    out += '}';
  }
  out += ']';
  return Bytes(out.begin(), out.end());
}

}  // namespace hil::lwm2m::senml_json
