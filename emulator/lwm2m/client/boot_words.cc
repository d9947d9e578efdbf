#include "emulator/lwm2m/client/boot_words.h"

#include <cstdio>
#include <cstdlib>

namespace hil::lwm2m {
namespace {

std::string text(int64_t v) { return std::to_string(v); }
std::string text(int v) { return std::to_string(v); }
std::string text(bool v) { return v ? "1" : "0"; }
// %.17g: the image parses back the very double the host holds.
std::string text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

struct Word {
  const char* key;
  const char* wants;  // what the error message asks for
  std::string (*get)(const BootConfig&);
  bool (*set)(BootConfig&, const std::string&);
};

// A word stored in one field: `field` is an expression of `c` naming it.
#define HIL_WORD(key, wants, field, check)                       \
  Word {                                                         \
    key, wants, [](const BootConfig& c) { return text(field); }, \
        [](BootConfig& c, const std::string& s) {                \
          auto v = field;                                        \
          if (!parse_word(s, &v) || !(check)) return false;      \
          field = v;                                             \
          return true;                                           \
        }                                                        \
  }

// The retry words set both schedules: the image and the emulator's devices
// have one retry policy for bootstrap and registration.
#define HIL_RETRY_WORD(key, wants, member, check)                                          \
  Word {                                                                                   \
    key, wants, [](const BootConfig& c) { return text(c.client.bootstrap_retry.member); }, \
        [](BootConfig& c, const std::string& s) {                                          \
          auto v = c.client.bootstrap_retry.member;                                        \
          if (!parse_word(s, &v) || !(check)) return false;                                \
          c.client.bootstrap_retry.member = c.client.register_retry.member = v;            \
          return true;                                                                     \
        }                                                                                  \
  }

const Word kWords[] = {
    {"ep", "an endpoint name", [](const BootConfig& c) { return c.client.endpoint; },
     [](BootConfig& c, const std::string& s) {
       c.client.endpoint = s;
       return !s.empty();
     }},
    {"bs", "a coap:// URI", [](const BootConfig& c) { return c.factory.bootstrap_uri; },
     [](BootConfig& c, const std::string& s) {
       c.factory.bootstrap_uri = s;
       return true;
     }},
    {"server", "a coap:// URI", [](const BootConfig& c) { return c.factory.server_uri; },
     [](BootConfig& c, const std::string& s) {
       c.factory.server_uri = s;
       return true;
     }},
    HIL_WORD("server_ssid", "1..65534", c.factory.server_ssid, v >= 1 && v <= 65534),
    HIL_WORD("server_lifetime", "seconds >= 1", c.factory.server_lifetime_s, v >= 1),
    {"profile", "cr, 1.0 or 1.1",
     [](const BootConfig& c) { return std::string(to_string(c.client.profile)); },
     [](BootConfig& c, const std::string& s) {
       auto p = parse_profile(s);
       if (p) c.client.profile = *p;
       return p.has_value();
     }},
    HIL_WORD("request_finish", "0 or 1", c.client.request_finish, true),
    HIL_WORD("finish_fallback", "0 or 1", c.client.finish_fallback, true),
    HIL_WORD("finish_timeout_ms", "ms >= 0", c.client.finish_timeout_ms, v >= 0),
    HIL_WORD("idle_timeout_ms", "ms >= 0", c.client.idle_timeout_ms, v >= 0),
    HIL_WORD("hold_off", "seconds >= 0", c.factory.hold_off_s, v >= 0),
    HIL_RETRY_WORD("retry_initial_ms", "ms >= 0", initial_ms, v >= 0),
    HIL_RETRY_WORD("retry_factor", "a number >= 1", factor, v >= 1),
    HIL_RETRY_WORD("retry_max_ms", "ms >= 0", max_ms, v >= 0),
    HIL_RETRY_WORD("retry_jitter", "0..1", jitter, v >= 0 && v <= 1),
    HIL_WORD("max_bootstrap_attempts", "a count >= 0 (0: forever)", c.client.max_bootstrap_attempts,
             v >= 0),
    HIL_WORD("register_attempts", "a count >= 1", c.client.register_attempts, v >= 1),
    HIL_WORD("ack_timeout_ms", "1..59999 ms", c.ack_timeout_ms, v > 0 && v < 60000),
    HIL_WORD("ack_random_factor", "a number >= 1", c.ack_random_factor, v >= 1),
    HIL_WORD("max_retransmit", "0..20", c.max_retransmit, v >= 0 && v <= 20),
};

#undef HIL_WORD
#undef HIL_RETRY_WORD

const Word* find(const std::string& key) {
  for (const auto& w : kWords)
    if (key == w.key) return &w;
  return nullptr;
}

}  // namespace

// "12x" must not quietly become 12 on the image.
bool parse_word(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool parse_word(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool parse_word(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool parse_word(const std::string& s, bool* out) {
  if (s == "1" || s == "true") {
    *out = true;
    return true;
  }
  if (s == "0" || s == "false") {
    *out = false;
    return true;
  }
  return false;
}

bool parse_word(const std::string& s, int* out) {
  int64_t v = 0;
  if (!parse_word(s, &v) || v < -2147483647 || v > 2147483647) return false;
  *out = static_cast<int>(v);
  return true;
}

std::vector<std::string> to_words(const BootConfig& c) {
  std::vector<std::string> out;
  for (const auto& w : kWords) out.push_back(std::string(w.key) + "=" + w.get(c));
  return out;
}

bool is_boot_word(const std::string& key) { return find(key) != nullptr; }

Status set_boot_word(BootConfig& c, const std::string& key, const std::string& value) {
  const Word* w = find(key);
  if (w == nullptr) return Error{ErrorCode::kInvalidArgument, "unknown argument '" + key + "'"};
  if (!w->set(c, value))
    return Error{ErrorCode::kInvalidArgument,
                 "argument " + key + "='" + value + "' is malformed: it wants " + w->wants};
  return ok_status();
}

}  // namespace hil::lwm2m
