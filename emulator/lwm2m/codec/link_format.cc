#include "emulator/lwm2m/codec/link_format.h"

#include <cstring>

namespace hil::lwm2m {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_parmname_char(char c) {  // RFC 5987 attr-char
  return is_alnum(c) || (c != '\0' && std::strchr("!#$&+-.^_`|~", c));
}

bool is_ptoken_char(char c) {  // RFC 6690 ptokenchar
  return is_alnum(c) || (c != '\0' && std::strchr("!#$%&'()*+-.:<=>?@[]^_`{|}~/", c));
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_integer(const std::string& v) {
  size_t i = (!v.empty() && v[0] == '-') ? 1 : 0;
  if (i == v.size()) return false;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
  }
  return true;
}

std::string quoted(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<std::vector<Link>> links() {
    std::vector<Link> out;
    skip_space();
    if (pos_ == s_.size()) return out;
    while (true) {
      HIL_TRY_ASSIGN(Link link, parse_link());
      out.push_back(std::move(link));
      skip_space();
      if (pos_ == s_.size()) return out;
      if (s_[pos_] != ',') return fail("expected ',' or ';'");
      ++pos_;
      skip_space();
    }
  }

 private:
  Result<Link> parse_link() {
    if (!eat('<')) return fail("expected '<' to open a link");
    const size_t close = s_.find('>', pos_);
    if (close == std::string_view::npos) return fail("'<' without '>'");
    Link link;
    link.target = std::string(s_.substr(pos_, close - pos_));
    if (link.target.empty()) return fail("empty link target '<>'");
    for (char c : link.target) {
      if (is_space(c) || c == '<') return fail("bad character in link target");
    }
    pos_ = close + 1;
    while (true) {
      skip_space();
      if (!eat(';')) return link;
      skip_space();
      HIL_TRY(parse_attr(link));
    }
  }

  Status parse_attr(Link& link) {
    const size_t start = pos_;
    while (pos_ < s_.size() && is_parmname_char(s_[pos_])) ++pos_;
    if (pos_ == start) return fail("expected an attribute name");
    std::string name(s_.substr(start, pos_ - start));
    skip_space();
    if (!eat('=')) {
      link.attrs.emplace_back(std::move(name), "");
      return ok_status();
    }
    skip_space();
    HIL_TRY_ASSIGN(std::string value,
                   pos_ < s_.size() && s_[pos_] == '"' ? parse_quoted() : parse_ptoken());
    link.attrs.emplace_back(std::move(name), std::move(value));
    return ok_status();
  }

  Result<std::string> parse_quoted() {
    ++pos_;  // the opening quote
    std::string v;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return v;
      if (c == '\\') {
        if (pos_ == s_.size()) break;
        v += s_[pos_++];
      } else {
        v += c;
      }
    }
    return fail("unterminated quoted value");
  }

  Result<std::string> parse_ptoken() {
    const size_t start = pos_;
    while (pos_ < s_.size() && is_ptoken_char(s_[pos_])) ++pos_;
    if (pos_ == start) return fail("expected a value after '='");
    return std::string(s_.substr(start, pos_ - start));
  }

  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void skip_space() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }

  Error fail(const char* what) const {
    return Error{ErrorCode::kInvalidArgument,
                 "bad link format at offset " + std::to_string(pos_) + ": " + what};
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_links(const std::vector<Link>& links) {
  std::string out;
  for (const Link& link : links) {
    if (!out.empty()) out += ',';
    out += "<" + link.target + ">";
    for (const auto& [name, value] : link.attrs) {
      out += ";" + name;
      if (value.empty()) continue;
      out += "=" + (is_integer(value) ? value : quoted(value));
    }
  }
  return out;
}

Result<std::vector<Link>> parse_links(std::string_view text) { return Parser(text).links(); }

}  // namespace hil::lwm2m
