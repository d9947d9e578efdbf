// Helpers for reading configuration JSON with errors that say where and
// what is allowed. Internal to hil_server_core: they throw ConfigError,
// which the public parse functions turn into a Result.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "emulator/lwm2m/model/object_def.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::server::config_json {

using nlohmann::json;

struct ConfigError {
  std::string message;
};

// Throws ConfigError "<where>: <what>".
[[noreturn]] void fail(const std::string& where, const std::string& what);

// Parses JSON text; ConfigError on nesting deeper than a configuration
// needs or on a key that appears twice in one object, json::exception on
// text that is not JSON.
json parse_text(const std::string& text);

// A short rendering of `j` for "got ..." in messages (never the whole value).
std::string describe(const json& j);

void expect_object(const json& j, const std::string& where);
void expect_array(const json& j, const std::string& where);
// Rejects keys outside `allowed`, naming the key and listing the allowed.
void check_keys(const json& obj, const std::string& where,
                std::initializer_list<const char*> allowed);

std::string get_string(const json& j, const std::string& where);
// An integer in [lo, hi].
int64_t get_int(const json& j, const std::string& where, int64_t lo, int64_t hi);
// An id 0..65534 written as a JSON object key ("0", "7").
uint16_t parse_id_key(const std::string& key, const std::string& where);
std::vector<uint8_t> parse_hex(const std::string& hex, const std::string& where);

// A resource value typed by its definition: see README.md for the JSON
// form of each LwM2M type. Multiple resources take an object of
// instance id -> value, or an array (instance ids 0, 1, ...).
lwm2m::Resource resource_from_json(const lwm2m::ResourceDef& def, const json& j,
                                   const std::string& where);
// {"<rid>": value, ...} for an instance of `obj`.
lwm2m::Instance instance_from_json(const lwm2m::ObjectDef& obj, const json& j,
                                   const std::string& where);

}  // namespace hil::server::config_json
