#include "emulator/radio/rules.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "emulator/radio/coap_peek.h"

namespace hil::radio {
namespace {

constexpr const char* kAllowedKeys =
    "name, direction, type, code, path, dtls, action, delay_ms, nth, count, probability";

Error field_error(const std::string& field, const std::string& allowed, const std::string& got) {
  return Error{ErrorCode::kInvalidArgument, field + ": must be " + allowed + ", got " + got};
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 1;  // paths start with '/'
  while (start <= path.size() && path.size() > 1) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

bool glob(const std::vector<std::string>& pattern, size_t p, const std::vector<std::string>& path,
          size_t s) {
  if (p == pattern.size()) return s == path.size();
  if (pattern[p] == "*") {
    for (size_t k = s; k <= path.size(); ++k) {
      if (glob(pattern, p + 1, path, k)) return true;
    }
    return false;
  }
  return s < path.size() && pattern[p] == path[s] && glob(pattern, p + 1, path, s + 1);
}

Status validate_path(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return field_error("path", "a Uri-Path glob starting with '/' like \"/bs\" or \"/1/*\"",
                       "\"" + path + "\"");
  }
  for (const std::string& segment : split_path(path)) {
    if (segment != "*" && segment.find('*') != std::string::npos) {
      return field_error("path", "'*' only as a whole segment (\"/1/*\")", "\"" + path + "\"");
    }
  }
  return ok_status();
}

Status validate_match(const Match& m) {
  if (m.coap_type && *m.coap_type > 3) {
    return field_error("type", "0..3 (CON, NON, ACK, RST)", std::to_string(*m.coap_type));
  }
  if (m.path) {
    HIL_TRY(validate_path(*m.path));
  }
  if (m.dtls_content_type && (*m.dtls_content_type < 20 || *m.dtls_content_type > 25)) {
    return field_error("dtls", "a record content type 20..25",
                       std::to_string(*m.dtls_content_type));
  }
  if (m.dtls_content_type && (m.coap_type || m.code || m.path)) {
    return Error{ErrorCode::kInvalidArgument,
                 "dtls: cannot be combined with type, code or path (DTLS hides the CoAP message)"};
  }
  return ok_status();
}

// Parsers for one value each; they name the key in their errors.
Result<uint64_t> parse_unsigned(const std::string& key, const std::string& v, uint64_t max) {
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < 0 || static_cast<uint64_t>(n) > max) {
    return field_error(key, "an integer 0.." + std::to_string(max), "\"" + v + "\"");
  }
  return static_cast<uint64_t>(n);
}

Result<double> parse_probability(const std::string& v) {
  char* end = nullptr;
  const double p = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(p)) {
    return field_error("probability", "a number 0..1", "\"" + v + "\"");
  }
  return p;
}

Result<Direction> parse_direction(const std::string& v) {
  const std::string s = lower(v);
  if (s == "up" || s == "uplink") return Direction::Uplink;
  if (s == "down" || s == "downlink") return Direction::Downlink;
  return field_error("direction", "one of up, down, uplink, downlink", "\"" + v + "\"");
}

Result<uint8_t> parse_type(const std::string& v) {
  static const char* const kNames[] = {"con", "non", "ack", "rst"};
  for (uint8_t t = 0; t < 4; ++t) {
    if (lower(v) == kNames[t]) return t;
  }
  return field_error("type", "one of CON, NON, ACK, RST", "\"" + v + "\"");
}

Result<uint8_t> parse_code(const std::string& v) {
  static const std::map<std::string, uint8_t> kMethods = {
      {"get", 1}, {"post", 2}, {"put", 3}, {"delete", 4}};
  const auto method = kMethods.find(lower(v));
  if (method != kMethods.end()) return method->second;
  const bool dotted = v.size() == 4 && v[1] == '.' && std::isdigit(static_cast<uint8_t>(v[0])) &&
                      std::isdigit(static_cast<uint8_t>(v[2])) &&
                      std::isdigit(static_cast<uint8_t>(v[3]));
  const int cls = dotted ? v[0] - '0' : 8;
  const int detail = dotted ? (v[2] - '0') * 10 + (v[3] - '0') : 32;
  if (cls > 7 || detail > 31) {
    return field_error("code", "GET, POST, PUT, DELETE or \"c.dd\" like \"2.04\" or \"0.00\"",
                       "\"" + v + "\"");
  }
  return static_cast<uint8_t>(cls * 32 + detail);
}

Result<uint8_t> parse_dtls(const std::string& v) {
  static const std::map<std::string, uint8_t> kTypes = {
      {"change_cipher_spec", 20}, {"alert", 21}, {"handshake", 22}, {"application_data", 23}};
  const auto it = kTypes.find(lower(v));
  if (it != kTypes.end()) return it->second;
  return field_error("dtls", "one of handshake, application_data, alert, change_cipher_spec",
                     "\"" + v + "\"");
}

Result<Action> parse_action(const std::string& v) {
  static const std::map<std::string, Action> kActions = {{"drop", Action::Drop},
                                                         {"delay", Action::Delay},
                                                         {"duplicate", Action::Duplicate},
                                                         {"corrupt", Action::Corrupt}};
  const auto it = kActions.find(lower(v));
  if (it != kActions.end()) return it->second;
  return field_error("action", "one of drop, delay, duplicate, corrupt", "\"" + v + "\"");
}

// Stores a parsed value into the rule, or passes the parser's error on.
template <typename T, typename Set>
Status assign(Result<T> parsed, Set set) {
  if (!parsed) return parsed.error();
  set(*parsed);
  return ok_status();
}

Status apply_field(Rule& r, const std::string& key, const std::string& v) {
  Match& m = r.match;
  if (key == "name") {
    r.name = v;
    return ok_status();
  }
  if (key == "direction") return assign(parse_direction(v), [&](Direction d) { m.direction = d; });
  if (key == "type") return assign(parse_type(v), [&](uint8_t t) { m.coap_type = t; });
  if (key == "code") return assign(parse_code(v), [&](uint8_t c) { m.code = c; });
  if (key == "path") {
    m.path = v;
    return ok_status();
  }
  if (key == "dtls") return assign(parse_dtls(v), [&](uint8_t t) { m.dtls_content_type = t; });
  if (key == "action") return assign(parse_action(v), [&](Action a) { r.action = a; });
  if (key == "delay_ms") {
    return assign(parse_unsigned(key, v, INT64_MAX), [&](uint64_t n) { r.delay_ms = n; });
  }
  if (key == "nth")
    return assign(parse_unsigned(key, v, UINT32_MAX), [&](uint64_t n) { r.nth = n; });
  if (key == "count") {
    return assign(parse_unsigned(key, v, UINT32_MAX), [&](uint64_t n) { r.count = n; });
  }
  if (key == "probability")
    return assign(parse_probability(v), [&](double p) { r.probability = p; });
  return Error{ErrorCode::kInvalidArgument, "unknown key '" + key + "'; allowed: " + kAllowedKeys};
}

}  // namespace

const char* to_string(Direction dir) { return dir == Direction::Uplink ? "up" : "down"; }

const char* to_string(Action action) {
  switch (action) {
    case Action::Drop:
      return "drop";
    case Action::Delay:
      return "delay";
    case Action::Duplicate:
      return "duplicate";
    case Action::Corrupt:
      return "corrupt";
  }
  return "?";
}

Status validate(const Rule& r) {
  HIL_TRY(validate_match(r.match));
  if (r.delay_ms < 0) return field_error("delay_ms", ">= 0", std::to_string(r.delay_ms));
  if (r.action == Action::Delay && r.delay_ms == 0) {
    return field_error("delay_ms", "> 0 for action delay", "0");
  }
  if (r.nth < 1) return field_error("nth", ">= 1", std::to_string(r.nth));
  if (!(r.probability >= 0 && r.probability <= 1)) {
    return field_error("probability", "0..1", number(r.probability));
  }
  return ok_status();
}

Result<Rule> parse_rule(const std::vector<std::pair<std::string, std::string>>& fields) {
  Rule rule;
  bool has_action = false;
  std::map<std::string, bool> seen;
  for (const auto& [key, value] : fields) {
    if (seen[key]) return Error{ErrorCode::kInvalidArgument, "key '" + key + "' given twice"};
    seen[key] = true;
    HIL_TRY(apply_field(rule, key, value));
    has_action = has_action || key == "action";
  }
  if (!has_action)
    return Error{ErrorCode::kInvalidArgument,
                 "action: required, one of drop, delay, duplicate, corrupt"};
  HIL_TRY(validate(rule));
  return rule;
}

bool matches(const Match& m, const Classified& d) {
  if (m.direction && *m.direction != d.direction) return false;
  if (m.dtls_content_type && m.dtls_content_type != d.dtls_content_type) return false;
  if (m.coap_type && m.coap_type != d.coap_type) return false;
  if (m.code && m.code != d.code) return false;
  if (m.path) {
    if (!d.path) return false;
    const std::string path = d.path->empty() ? "/" : *d.path;
    return glob(split_path(*m.path), 0, split_path(path), 0);
  }
  return true;
}

Status RuleSet::add(Rule rule) {
  HIL_TRY(validate(rule));
  if (rule.name.empty()) rule.name = "rule-" + std::to_string(rules_.size() + 1);
  rules_.push_back(Armed{std::move(rule)});
  return ok_status();
}

Classified RuleSet::classify(Direction dir, const uint8_t* data, size_t len) {
  Classified c;
  c.direction = dir;
  c.dtls_content_type = peek_dtls_content_type(data, len);
  const std::optional<CoapPeek> peek = peek_coap(data, len);
  if (!peek) return c;
  c.coap_type = peek->type;
  c.code = peek->code;
  if (is_request(peek->code)) {
    c.path = peek->path;
    Request request{dir, peek->mid, peek->token, peek->path};
    if (requests_.size() < kRememberedRequests) {
      requests_.push_back(std::move(request));
    } else {
      requests_[oldest_] = std::move(request);
      oldest_ = (oldest_ + 1) % kRememberedRequests;
    }
  } else {
    c.path = answered_path(dir, peek->type, peek->mid, peek->token);
  }
  return c;
}

// A piggybacked ACK (and an empty ACK or RST) echoes the request's message
// ID; a separate response only its token.
std::optional<std::string> RuleSet::answered_path(Direction dir, uint8_t type, uint16_t mid,
                                                  const std::vector<uint8_t>& token) const {
  const bool by_mid = type >= 2;
  const size_t n = requests_.size();
  for (size_t back = 1; back <= n; ++back) {
    const Request& r = requests_[(oldest_ + n - back) % n];
    if (r.direction == dir) continue;
    if (by_mid ? r.mid == mid : r.token == token) return r.path;
  }
  return std::nullopt;
}

bool RuleSet::eligible(const Armed& a, Rng& rng) const {
  if (a.seen < a.rule.nth) return false;
  if (a.rule.count != 0 && a.fired >= a.rule.count) return false;
  return rng.chance(a.rule.probability);
}

const Rule* RuleSet::fire(const Classified& datagram, Rng& rng) {
  std::vector<Armed*> matching;
  for (Armed& a : rules_) {
    if (matches(a.rule.match, datagram)) {
      ++a.seen;
      matching.push_back(&a);
    }
  }
  for (Armed* a : matching) {
    if (eligible(*a, rng)) {
      ++a->fired;
      return &a->rule;
    }
  }
  return nullptr;
}

}  // namespace hil::radio
