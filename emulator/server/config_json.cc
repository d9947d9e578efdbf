#include "emulator/server/config_json.h"

#include <cstdint>
#include <limits>
#include <set>
#include <vector>

namespace hil::server::config_json {

void fail(const std::string& where, const std::string& what) {
  throw ConfigError{where + ": " + what};
}

std::string describe(const json& j) {
  // Never the whole value: dump() recurses, and a deeply nested value would
  // overflow the stack to produce 40 characters.
  if (j.is_array() && !j.empty()) return "an array of " + std::to_string(j.size()) + " item(s)";
  if (j.is_object() && !j.empty()) return "an object of " + std::to_string(j.size()) + " key(s)";
  if (j.is_string() && j.get_ref<const std::string&>().size() > 37)
    // The cut may split a UTF-8 sequence, and any string may be invalid
    // UTF-8: such bytes show as U+FFFD instead of making dump() throw.
    return json(j.get_ref<const std::string&>().substr(0, 34))
               .dump(-1, ' ', false, json::error_handler_t::replace) +
           "...";
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // a scalar or an empty container
}

namespace {

// A configuration is a handful of levels deep; a limit keeps absurd input
// from costing stack anywhere after parsing.
constexpr int kMaxDepth = 32;

// Parser callback: refuses nesting beyond kMaxDepth and duplicate keys,
// which nlohmann::json (like most parsers) would silently resolve to the
// last one.
class ParseGuard {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    using Event = json::parse_event_t;
    const bool opens = event == Event::object_start || event == Event::array_start;
    if ((opens || event == Event::value) && !frames_.empty() && !frames_.back().object)
      ++frames_.back().items;
    if (opens) {
      if (depth >= kMaxDepth)
        fail(where(),
             "nested deeper than " + std::to_string(kMaxDepth) + " levels of objects and arrays");
      frames_.push_back({event == Event::object_start, {}, "", 0});
    } else if (event == Event::object_end || event == Event::array_end) {
      frames_.pop_back();
    } else if (event == Event::key) {
      Frame& f = frames_.back();
      f.key = parsed.get<std::string>();
      if (!f.keys.insert(f.key).second)
        fail(where(), "duplicate key \"" + f.key.substr(0, 40) + "\" (remove one of them)");
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;   // an object's latest key
    size_t items = 0;  // an array's items so far
  };
  // "endpoints[0].servers", as the other messages name places; "config" at the top.
  std::string where() const {
    std::string w;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      w += f.object ? (w.empty() ? "" : ".") + f.key.substr(0, 40)
                    : "[" + std::to_string(f.items - 1) + "]";
    }
    return w.empty() ? "config" : w;
  }
  std::vector<Frame> frames_;
};

}  // namespace

json parse_text(const std::string& text) { return json::parse(text, ParseGuard{}); }

void expect_object(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object, got " + describe(j));
}

void expect_array(const json& j, const std::string& where) {
  if (!j.is_array()) fail(where, "expected an array, got " + describe(j));
}

void check_keys(const json& obj, const std::string& where,
                std::initializer_list<const char*> allowed) {
  for (const auto& item : obj.items()) {
    bool known = false;
    std::string list;
    for (const char* a : allowed) {
      known = known || item.key() == a;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!known) {
      fail(where, "unknown key \"" + item.key() + "\" (allowed: " + list + ")");
    }
  }
}

std::string get_string(const json& j, const std::string& where) {
  if (!j.is_string()) fail(where, "expected a string, got " + describe(j));
  return j.get<std::string>();
}

int64_t get_int(const json& j, const std::string& where, int64_t lo, int64_t hi) {
  const std::string expected =
      "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
  // Unsigned values above INT64_MAX are out of every range we accept.
  if (!j.is_number_integer() ||
      (j.is_number_unsigned() &&
       j.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})) {
    fail(where, expected + ", got " + describe(j));
  }
  const int64_t v = j.get<int64_t>();
  if (v < lo || v > hi) fail(where, expected + ", got " + describe(j));
  return v;
}

uint16_t parse_id_key(const std::string& key, const std::string& where) {
  bool digits = !key.empty() && key.size() <= 5;
  for (char c : key) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoul(key) > 65534) {
    fail(where, "key \"" + key + "\" is not an id 0..65534");
  }
  return static_cast<uint16_t>(std::stoul(key));
}

std::vector<uint8_t> parse_hex(const std::string& hex, const std::string& where) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out;
  bool valid = hex.size() % 2 == 0;
  for (size_t i = 0; valid && i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    valid = hi >= 0 && lo >= 0;
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  if (!valid) {
    fail(where, "expected an even number of hex digits, got \"" + hex + "\"");
  }
  return out;
}

namespace {

lwm2m::Value value_from_json(const lwm2m::ResourceDef& def, const json& j,
                             const std::string& where) {
  using lwm2m::ResourceType;
  const std::string about = " (" + def.name + " is " + to_string(def.type) + ")";
  auto mismatch = [&](const std::string& expected) {
    fail(where, "expected " + expected + about + ", got " + describe(j));
  };
  switch (def.type) {
    case ResourceType::String:
    case ResourceType::CoreLink:
      if (!j.is_string()) mismatch("a string");
      return j.get<std::string>();
    case ResourceType::Integer:
    case ResourceType::Time:
      if (!j.is_number_integer() ||
          (j.is_number_unsigned() &&
           j.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})) {
        mismatch("a signed 64-bit integer");
      }
      return j.get<int64_t>();
    case ResourceType::UnsignedInteger:
      if (!j.is_number_unsigned()) mismatch("an unsigned integer");
      return j.get<uint64_t>();
    case ResourceType::Float:
      if (!j.is_number()) mismatch("a number");
      return j.get<double>();
    case ResourceType::Boolean:
      if (!j.is_boolean()) mismatch("true or false");
      return j.get<bool>();
    case ResourceType::Opaque:
      if (!j.is_object() || j.size() != 1 || !j.contains("hex") || !j["hex"].is_string()) {
        mismatch("{\"hex\": \"<hex digits>\"}");
      }
      return parse_hex(j["hex"].get<std::string>(), where + ".hex");
    case ResourceType::ObjLink: {
      const std::string s = j.is_string() ? j.get<std::string>() : "";
      const size_t colon = s.find(':');
      if (colon == std::string::npos) mismatch("\"<object>:<instance>\"");
      // Objlnk allows 65535 ("no instance"), unlike paths.
      auto part = [&](const std::string& p) {
        bool digits = !p.empty() && p.size() <= 5;
        for (char c : p) digits = digits && c >= '0' && c <= '9';
        if (!digits || std::stoul(p) > 65535) {
          mismatch("\"<object>:<instance>\" with ids 0..65535");
        }
        return static_cast<uint16_t>(std::stoul(p));
      };
      return lwm2m::ObjLink{part(s.substr(0, colon)), part(s.substr(colon + 1))};
    }
    case ResourceType::None:
      break;
  }
  fail(where, "resource " + std::to_string(def.id) + " (" + def.name +
                  ") is executable and carries no value");
}

}  // namespace

lwm2m::Resource resource_from_json(const lwm2m::ResourceDef& def, const json& j,
                                   const std::string& where) {
  if (!def.multiple) return lwm2m::Resource::single(value_from_json(def, j, where));
  lwm2m::Resource r{true, {}};
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      r.values[static_cast<uint16_t>(i)] =
          value_from_json(def, j[i], where + "[" + std::to_string(i) + "]");
    }
  } else if (j.is_object()) {
    for (const auto& item : j.items()) {
      const std::string at = where + "." + item.key();
      r.values[parse_id_key(item.key(), at)] = value_from_json(def, item.value(), at);
    }
  } else {
    fail(where, "resource " + std::to_string(def.id) + " (" + def.name +
                    ") is multiple: expected an array or an object of "
                    "instance id -> value, got " +
                    describe(j));
  }
  return r;
}

lwm2m::Instance instance_from_json(const lwm2m::ObjectDef& obj, const json& j,
                                   const std::string& where) {
  expect_object(j, where);
  lwm2m::Instance inst;
  for (const auto& item : j.items()) {
    const std::string at = where + "." + item.key();
    const uint16_t rid = parse_id_key(item.key(), at);
    const lwm2m::ResourceDef* def = obj.resource(rid);
    if (def == nullptr) {
      fail(at, "object " + std::to_string(obj.id) + " (" + obj.name + ") has no resource " +
                   std::to_string(rid));
    }
    inst[rid] = resource_from_json(*def, item.value(), at);
  }
  return inst;
}

}  // namespace hil::server::config_json
