#include "args.h"

#include <cstdlib>
#include <cstring>

namespace fw {
namespace {

// Dotted quad to network byte order (as lwIP's ip4_addr_t holds it).
bool parse_ipv4(const std::string& s, uint32_t* out) {
  uint32_t parts[4];
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = s.find('.', pos);
    if ((i < 3) != (end != std::string::npos)) return false;
    std::string part = s.substr(pos, i < 3 ? end - pos : std::string::npos);
    uint64_t v;
    if (!hil::lwm2m::parse_word(part, &v) || v > 255) return false;
    parts[i] = static_cast<uint32_t>(v);
    pos = end + 1;
  }
  *out = parts[0] | (parts[1] << 8) | (parts[2] << 16) | (parts[3] << 24);
  return true;
}

}  // namespace

std::optional<Args> parse_args(const char* cmdline, std::string* error) {
  Args a;
  a.factory.model = "qemu-mps2-an385";
  parse_ipv4("10.0.2.15", &a.ip);
  parse_ipv4("10.0.2.2", &a.gateway);
  parse_ipv4("255.255.255.0", &a.netmask);
  a.client.endpoint.clear();
  bool first = true;
  const char* p = cmdline;
  while (*p) {
    while (*p == ' ') ++p;
    if (!*p) break;
    const char* end = std::strchr(p, ' ');
    std::string token(p, end ? static_cast<size_t>(end - p) : std::strlen(p));
    p = end ? end : p + token.size();
    if (first) {  // the kernel's file name
      first = false;
      if (token.find('=') == std::string::npos) continue;
    }
    size_t eq = token.find('=');
    if (eq == std::string::npos) {
      *error = "argument '" + token + "' is not key=value";
      return std::nullopt;
    }
    std::string key = token.substr(0, eq), v = token.substr(eq + 1);
    uint64_t u = 0;
    bool ok = true;
    if (hil::lwm2m::is_boot_word(key)) {
      auto set = hil::lwm2m::set_boot_word(a, key, v);
      if (!set) {
        *error = set.error().message;
        return std::nullopt;
      }
    } else if (key == "ip") {
      ok = parse_ipv4(v, &a.ip);
    } else if (key == "gw") {
      ok = parse_ipv4(v, &a.gateway);
    } else if (key == "mask") {
      ok = parse_ipv4(v, &a.netmask);
    } else if (key == "flash") {
      a.flash_path = v;
    } else if (key == "flash_size") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.geometry.size = static_cast<uint32_t>(u);
    } else if (key == "flash_sector") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.geometry.sector_size = static_cast<uint32_t>(u);
    } else if (key == "flash_page") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.geometry.page_size = static_cast<uint32_t>(u);
    } else if (key == "flash_seed") {
      ok = hil::lwm2m::parse_word(v, &a.flash_seed);
    } else if (key == "flash_violation") {
      ok = v == "and" || v == "error";
      a.on_violation =
          v == "error" ? hil::flash::ViolationPolicy::kError : hil::flash::ViolationPolicy::kAnd;
    } else if (key == "flash_endurance") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.endurance = static_cast<uint32_t>(u);
    } else if (key == "cut_op") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.cut_op = u;
    } else if (key == "cut_byte") {
      ok = hil::lwm2m::parse_word(v, &u);
      a.cut_byte = static_cast<uint32_t>(u);
    } else if (key == "seed") {
      ok = hil::lwm2m::parse_word(v, &a.seed);
    } else if (key == "stats_ms") {
      ok = hil::lwm2m::parse_word(v, &a.stats_ms) && a.stats_ms >= 0;
    } else if (key == "coap_log") {
      ok = hil::lwm2m::parse_word(v, &u) && u <= 7;
      a.coap_log = static_cast<int>(u);
    } else {
      *error = "unknown argument '" + key + "'";
      return std::nullopt;
    }
    if (!ok) {
      *error = "argument " + key + "='" + v + "' is malformed";
      return std::nullopt;
    }
  }
  if (a.client.endpoint.empty()) {
    *error = "ep=<endpoint name> is required";
    return std::nullopt;
  }
  if (a.factory.bootstrap_uri.empty() && a.factory.server_uri.empty()) {
    *error = "bs=coap://<ipv4>:<port> (or server=) is required";
    return std::nullopt;
  }
  if (a.cut_byte && !a.cut_op) {
    *error = "cut_byte needs cut_op";
    return std::nullopt;
  }
  a.client.seed = a.seed;
  return a;
}

}  // namespace fw
