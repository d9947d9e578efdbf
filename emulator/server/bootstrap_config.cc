#include "emulator/server/bootstrap_config.h"

#include <set>

#include "emulator/lwm2m/codec/content.h"
#include "emulator/lwm2m/model/object_def.h"
#include "emulator/server/config_json.h"

namespace hil::server {
namespace {

using config_json::ConfigError;
using config_json::fail;
using config_json::json;
namespace lw = hil::lwm2m;

// One Write before encoding: `data` keyed as content::encode() takes it
// (for /1/0/7: {0: {7: <resource>}}).
struct WriteSpec {
  lw::Path path;
  lw::Instances data;
  bool optional = false;  // an error answer does not fail the session
};

std::string at(const std::string& where, const char* key) { return where + "." + key; }

std::string at(const std::string& where, size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

const lw::ObjectDef& object_def(uint16_t obj, const std::string& where) {
  const lw::ObjectRegistry& reg = lw::ObjectRegistry::builtin();
  if (const lw::ObjectDef* def = reg.find(obj)) return *def;
  std::string known;
  for (uint16_t id : reg.ids()) {
    known += (known.empty() ? "" : ", ") + std::to_string(id);
  }
  fail(where,
       "object " + std::to_string(obj) + " has no definition (known objects: " + known + ")");
}

lw::Path get_path(const json& j, const std::string& where) {
  Result<lw::Path> p = lw::Path::parse(config_json::get_string(j, where));
  if (!p) fail(where, p.error().message);
  return *p;
}

std::string to_hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Keeps only the resources the builtin definition has, so the expansion
// follows whatever version of the object the registry describes.
json defined_only(const lw::ObjectDef& def, const json& resources) {
  json out = json::object();
  for (const auto& item : resources.items()) {
    if (def.resource(static_cast<uint16_t>(std::stoul(item.key())))) {
      out[item.key()] = item.value();
    }
  }
  return out;
}

struct Security {
  std::string mode = "nosec";
  std::string identity, key_hex;
  std::string cert_hex, server_cert_hex;  // x509 server accounts (key_hex: their key)
};

// "x509_cert_hex", "x509_key_hex", "x509_server_cert_hex" of a server
// account in certificate mode: /0/x/3, /0/x/5 and /0/x/4, DER as hex.
void parse_certificate(const json& j, const std::string& w, Security& sec) {
  const char* keys[] = {"x509_cert_hex", "x509_key_hex", "x509_server_cert_hex"};
  std::string* fields[] = {&sec.cert_hex, &sec.key_hex, &sec.server_cert_hex};
  for (size_t i = 0; i < 3; ++i) {
    if (!j.contains(keys[i])) fail(w, "x509 needs \"" + std::string(keys[i]) + "\"");
    *fields[i] = config_json::get_string(j[keys[i]], at(w, keys[i]));
    if (config_json::parse_hex(*fields[i], at(w, keys[i])).empty())
      fail(at(w, keys[i]), "must not be empty");
  }
}

// "security_mode", "psk_identity", "psk_key_hex" of an object: a server
// account's, or the credentials an endpoint presents to this server;
// `account` allows the x509 keys of a server account.
Security parse_security(const json& j, const std::string& w, bool account = false) {
  Security sec;
  if (j.contains("security_mode"))
    sec.mode = config_json::get_string(j["security_mode"], at(w, "security_mode"));
  if (sec.mode != "nosec" && sec.mode != "psk" && sec.mode != "x509") {
    fail(at(w, "security_mode"),
         "expected \"nosec\", \"psk\" or \"x509\", got \"" + sec.mode + "\"");
  }
  for (const char* k : {"x509_cert_hex", "x509_key_hex", "x509_server_cert_hex"}) {
    if (sec.mode != "x509" && j.contains(k))
      fail(at(w, k), "only allowed with security_mode \"x509\"");
  }
  if (sec.mode == "x509" && account) parse_certificate(j, w, sec);
  for (const char* k : {"psk_identity", "psk_key_hex"}) {
    if (sec.mode != "psk" && j.contains(k))
      fail(at(w, k), "only allowed with security_mode \"psk\"");
    if (sec.mode == "psk" && !j.contains(k)) fail(w, "psk needs \"" + std::string(k) + "\"");
  }
  if (sec.mode == "psk") {
    sec.identity = config_json::get_string(j["psk_identity"], at(w, "psk_identity"));
    sec.key_hex = config_json::get_string(j["psk_key_hex"], at(w, "psk_key_hex"));
    if (sec.identity.empty()) fail(at(w, "psk_identity"), "must not be empty");
    if (config_json::parse_hex(sec.key_hex, at(w, "psk_key_hex")).empty()) {
      fail(at(w, "psk_key_hex"), "must not be empty");
    }
  }
  return sec;
}

int64_t mode_of(const std::string& mode) {
  if (mode == "psk") return lw::security::kModePsk;
  return mode == "x509" ? lw::security::kModeCert : lw::security::kModeNoSec;
}

// "servers": each account becomes a Security instance 1+i and a Server
// instance i (Security 0 is commonly the bootstrap account). All Security
// writes come first, as in Leshan.
std::vector<WriteSpec> expand_servers(const json& servers, const std::string& where) {
  config_json::expect_array(servers, where);
  std::vector<WriteSpec> security, server;
  std::set<int64_t> ssids;
  for (size_t i = 0; i < servers.size(); ++i) {
    const std::string w = at(where, i);
    const json& s = servers[i];
    config_json::expect_object(s, w);
    config_json::check_keys(
        s, w,
        {"ssid", "uri", "lifetime", "binding", "security_mode", "psk_identity", "psk_key_hex",
         "x509_cert_hex", "x509_key_hex", "x509_server_cert_hex"});
    if (!s.contains("ssid")) fail(w, "missing \"ssid\"");
    if (!s.contains("uri")) fail(w, "missing \"uri\"");
    const int64_t ssid = config_json::get_int(s["ssid"], at(w, "ssid"), 1, 65534);
    if (!ssids.insert(ssid).second) {
      fail(at(w, "ssid"), std::to_string(ssid) + " is used by another server");
    }
    const int64_t lifetime =
        s.contains("lifetime")
            ? config_json::get_int(s["lifetime"], at(w, "lifetime"), 1, 4294967295)
            : 86400;
    const std::string binding =
        s.contains("binding") ? config_json::get_string(s["binding"], at(w, "binding")) : "U";
    if (binding.empty() || binding.find_first_not_of("UQSTN") != std::string::npos) {
      fail(at(w, "binding"),
           "expected binding letters from U, Q, S, T, N "
           "(e.g. \"U\", \"UQ\"), got \"" +
               binding + "\"");
    }
    const Security creds = parse_security(s, w, /*account=*/true);
    const std::string uri = config_json::get_string(s["uri"], at(w, "uri"));
    const std::string scheme = creds.mode == "nosec" ? "coap://" : "coaps://";
    if (uri.compare(0, scheme.size(), scheme) != 0 || uri.size() == scheme.size()) {
      fail(at(w, "uri"), "security_mode " + creds.mode + " needs a " + scheme +
                             "host:port URI, got \"" + uri + "\"");
    }
    const json sec = {
        {"0", uri},
        {"1", false},
        {"2", mode_of(creds.mode)},
        {"3", {{"hex", creds.mode == "x509" ? creds.cert_hex : to_hex(creds.identity)}}},
        {"4", {{"hex", creds.server_cert_hex}}},
        {"5", {{"hex", creds.key_hex}}},
        {"10", ssid}};
    const json srv = {{"0", ssid}, {"1", lifetime}, {"6", true}, {"7", binding}};
    const auto sec_inst = static_cast<uint16_t>(i + 1);
    const auto srv_inst = static_cast<uint16_t>(i);
    const lw::ObjectDef& sec_def = object_def(lw::kSecurity, w);
    const lw::ObjectDef& srv_def = object_def(lw::kServer, w);
    security.push_back(
        {lw::Path{lw::kSecurity, sec_inst, {}, {}},
         {{sec_inst, config_json::instance_from_json(sec_def, defined_only(sec_def, sec), w)}}});
    server.push_back(
        {lw::Path{lw::kServer, srv_inst, {}, {}},
         {{srv_inst, config_json::instance_from_json(srv_def, defined_only(srv_def, srv), w)}}});
  }
  security.insert(security.end(), server.begin(), server.end());
  return security;
}

bool parse_optional(const json& j, const std::string& where) {
  if (!j.contains("optional")) return false;
  if (!j["optional"].is_boolean()) {
    fail(at(where, "optional"),
         "expected true or false, got " + config_json::describe(j["optional"]));
  }
  return j["optional"].get<bool>();
}

WriteSpec parse_write(const json& j, const std::string& where) {
  config_json::expect_object(j, where);
  if (!j.contains("path")) fail(where, "missing \"path\"");
  const lw::Path path = get_path(j["path"], at(where, "path"));
  WriteSpec w{path, {}, parse_optional(j, where)};
  switch (path.depth()) {
    case 1: {
      config_json::check_keys(j, where, {"path", "instances", "optional"});
      if (!j.contains("instances")) fail(where, "a write to an object needs \"instances\"");
      const std::string iw = at(where, "instances");
      config_json::expect_object(j["instances"], iw);
      const lw::ObjectDef& def = object_def(*path.obj, at(where, "path"));
      for (const auto& item : j["instances"].items()) {
        const std::string w2 = iw + "." + item.key();
        w.data[config_json::parse_id_key(item.key(), w2)] =
            config_json::instance_from_json(def, item.value(), w2);
      }
      return w;
    }
    case 2: {
      config_json::check_keys(j, where, {"path", "resources", "optional"});
      if (!j.contains("resources")) fail(where, "a write to an instance needs \"resources\"");
      const lw::ObjectDef& def = object_def(*path.obj, at(where, "path"));
      w.data[*path.inst] =
          config_json::instance_from_json(def, j["resources"], at(where, "resources"));
      return w;
    }
    case 3: {
      config_json::check_keys(j, where, {"path", "value", "optional"});
      if (!j.contains("value")) fail(where, "a write to a resource needs \"value\"");
      const lw::ObjectDef& def = object_def(*path.obj, at(where, "path"));
      const lw::ResourceDef* rdef = def.resource(*path.res);
      if (rdef == nullptr) {
        fail(at(where, "path"), "object " + std::to_string(def.id) + " (" + def.name +
                                    ") has no resource " + std::to_string(*path.res));
      }
      w.data[*path.inst][*path.res] =
          config_json::resource_from_json(*rdef, j["value"], at(where, "value"));
      return w;
    }
    default:
      fail(at(where, "path"),
           "a write targets /obj, /obj/inst or "
           "/obj/inst/res, got '" +
               path.str() + "'");
  }
}

FinishPolicy parse_finish(const json& j, const std::string& where) {
  if (j.is_boolean()) return j.get<bool>() ? FinishPolicy::Always : FinishPolicy::Never;
  if (j == "auto") return FinishPolicy::Auto;
  fail(where, "expected \"auto\", true or false, got " + config_json::describe(j));
}

uint16_t parse_content_format(const json& j, const std::string& where) {
  if (j == "tlv") return lw::format::kTlv;
  if (j == "text") return lw::format::kText;
  if (j == "senml-json") return lw::format::kSenmlJson;
  if (j == "senml-cbor") return lw::format::kSenmlCbor;
  fail(where, "expected \"tlv\", \"text\", \"senml-json\" or \"senml-cbor\", got " +
                  config_json::describe(j));
}

std::vector<std::string> segments(const lw::Path& p) {
  std::vector<std::string> out;
  for (const std::optional<uint16_t>* id : {&p.obj, &p.inst, &p.res, &p.riid}) {
    if (!*id) break;
    out.push_back(std::to_string(**id));
  }
  return out;
}

// Plain text carries one value, so with "text" only single resources go
// as text (opaque ones as 42, which text cannot carry); the rest as TLV.
// SenML carries anything.
Result<lw::Request> make_write(const WriteSpec& w, uint16_t content_format) {
  const lw::ObjectDef& def = *lw::ObjectRegistry::builtin().find(*w.path.obj);
  uint16_t format = content_format == lw::format::kText ? lw::format::kTlv : content_format;
  if (content_format == lw::format::kText && w.path.depth() == 3) {
    const lw::ResourceDef& rd = *def.resource(*w.path.res);
    if (!rd.multiple) {
      format = rd.type == lw::ResourceType::Opaque ? lw::format::kOpaque : lw::format::kText;
    }
  }
  HIL_TRY_ASSIGN(lw::Bytes payload, lw::content::encode(def, w.path, w.data, format));
  lw::Request r;
  r.method = lw::Method::Put;
  r.path = segments(w.path);
  r.content_format = format;
  r.payload = std::move(payload);
  return r;
}

lw::Request make_delete(const lw::Path& path) {
  lw::Request r;
  r.method = lw::Method::Delete;
  r.path = segments(path);
  return r;
}

// An item of "delete", "discover" or "read": a path, or {"path": ...,
// "optional": true}. `*path_at` names where the path was, for errors.
lw::Path parse_path_item(const json& j, const std::string& where, bool* optional,
                         std::string* path_at) {
  const json* path = &j;
  *optional = false;
  if (j.is_object()) {
    config_json::check_keys(j, where, {"path", "optional"});
    if (!j.contains("path")) fail(where, "missing \"path\"");
    path = &j["path"];
    *optional = parse_optional(j, where);
  }
  *path_at = j.is_object() ? at(where, "path") : where;
  return get_path(*path, *path_at);
}

lw::Request parse_delete(const json& j, const std::string& where, bool* optional) {
  std::string pw;
  const lw::Path p = parse_path_item(j, where, optional, &pw);
  if (p.depth() > 2) fail(pw, "Delete targets /, /obj or /obj/inst, got '" + p.str() + "'");
  return make_delete(p);
}

// A "discover" or "read" item: a path, or {"path": ..., "optional": true}.
// Bootstrap-Discover targets / or /obj; Bootstrap-Read an object or an
// instance. Which objects a client lets the server read is the client's
// business (1.1: the Server and Access Control objects), so any object id
// passes here, to let a test show the refusal.
lw::Request parse_get(const json& j, const std::string& where, bool discover, bool* optional) {
  std::string pw;
  const lw::Path p = parse_path_item(j, where, optional, &pw);
  if (discover && p.depth() > 1) {
    fail(pw, "Bootstrap-Discover targets / or /obj, got '" + p.str() + "'");
  }
  if (!discover && (p.depth() < 1 || p.depth() > 2)) {
    fail(pw, "Bootstrap-Read targets /obj or /obj/inst, got '" + p.str() + "'");
  }
  lw::Request r;
  r.method = lw::Method::Get;
  r.path = segments(p);
  r.accept = discover ? lw::format::kLinkFormat : lw::format::kTlv;
  return r;
}

// "discover", then "read": each a list of parse_get items, first in the
// session, so they show what the client held before this session changed it.
void add_gets(EndpointConfig& ep, const json& j, const std::string& where) {
  for (const char* key : {"discover", "read"}) {
    if (!j.contains(key)) continue;
    const std::string kw = at(where, key);
    config_json::expect_array(j[key], kw);
    for (size_t i = 0; i < j[key].size(); ++i) {
      bool optional = false;
      ep.commands.push_back(
          parse_get(j[key][i], at(kw, i), std::string(key) == "discover", &optional));
      if (optional) ep.optional.insert(ep.commands.size() - 1);
    }
  }
}

// A Bootstrap-Read asks for the session's format: what the entry fixes
// (TLV for "text", which cannot carry an instance), or what `pct` names.
void set_read_format(std::vector<lw::Request>& commands, uint16_t format) {
  if (format == lw::format::kText) format = lw::format::kTlv;
  for (lw::Request& r : commands) {
    if (r.method == lw::Method::Get && r.accept != lw::format::kLinkFormat) r.accept = format;
  }
}

// Encodes the writes after the deletes already in `ep`: in `format` into
// ep.commands, and, unless the entry fixed its format, in both SenML
// formats into ep.by_format.
void add_writes(EndpointConfig& ep, const std::vector<WriteSpec>& writes,
                const std::vector<std::string>& locations, std::optional<uint16_t> fixed) {
  std::vector<uint16_t> alternatives;
  if (!fixed) alternatives = {lw::format::kSenmlJson, lw::format::kSenmlCbor};
  if (fixed) set_read_format(ep.commands, *fixed);
  for (uint16_t f : alternatives) {
    ep.by_format[f] = ep.commands;
    set_read_format(ep.by_format[f], f);
  }
  for (size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].optional) ep.optional.insert(ep.commands.size());
    Result<lw::Request> r = make_write(writes[i], fixed.value_or(lw::format::kTlv));
    if (!r) fail(locations[i], r.error().message);
    ep.commands.push_back(std::move(*r));
    for (uint16_t f : alternatives) {
      Result<lw::Request> alt = make_write(writes[i], f);
      if (!alt) fail(locations[i], alt.error().message);
      ep.by_format[f].push_back(std::move(*alt));
    }
  }
}

EndpointConfig parse_endpoint(const json& j, const std::string& where) {
  config_json::expect_object(j, where);
  config_json::check_keys(
      j, where,
      {"match", "profile", "discover", "read", "delete", "servers", "writes", "finish",
       "content_format", "security_mode", "psk_identity", "psk_key_hex"});
  EndpointConfig ep;
  if (!j.contains("match")) fail(where, "missing \"match\" (a glob such as \"dev-*\")");
  ep.match = config_json::get_string(j["match"], at(where, "match"));
  if (const Security sec = parse_security(j, where); sec.mode == "psk") {
    ep.psk = PskCredential{ep.match, sec.identity,
                           config_json::parse_hex(sec.key_hex, at(where, "psk_key_hex"))};
  }
  ep.x509 = parse_security(j, where).mode == "x509";
  if (j.contains("profile")) {
    const std::string text = config_json::get_string(j["profile"], at(where, "profile"));
    ep.profile = lw::parse_profile(text);
    if (!ep.profile) {
      fail(at(where, "profile"), "expected \"cr\", \"1.0\" or \"1.1\", got \"" + text + "\"");
    }
  }
  if (j.contains("finish")) ep.finish = parse_finish(j["finish"], at(where, "finish"));
  std::optional<uint16_t> format;
  if (j.contains("content_format")) {
    format = parse_content_format(j["content_format"], at(where, "content_format"));
  }
  add_gets(ep, j, where);
  if (j.contains("delete")) {
    const std::string dw = at(where, "delete");
    config_json::expect_array(j["delete"], dw);
    for (size_t i = 0; i < j["delete"].size(); ++i) {
      bool optional = false;
      ep.commands.push_back(parse_delete(j["delete"][i], at(dw, i), &optional));
      if (optional) ep.optional.insert(ep.commands.size() - 1);
    }
  }
  std::vector<WriteSpec> writes;
  if (j.contains("servers")) writes = expand_servers(j["servers"], at(where, "servers"));
  std::vector<std::string> locations(writes.size(), at(where, "servers"));
  if (j.contains("writes")) {
    const std::string ww = at(where, "writes");
    config_json::expect_array(j["writes"], ww);
    for (size_t i = 0; i < j["writes"].size(); ++i) {
      writes.push_back(parse_write(j["writes"][i], at(ww, i)));
      locations.push_back(at(ww, i));
    }
  }
  ep.content_format = format;
  add_writes(ep, writes, locations, format);
  return ep;
}

BootstrapConfig parse_config(const json& j) {
  const std::string where = "config";
  config_json::expect_object(j, where);
  config_json::check_keys(j, where, {"endpoints"});
  if (!j.contains("endpoints")) fail(where, "missing \"endpoints\"");
  config_json::expect_array(j["endpoints"], "endpoints");
  BootstrapConfig config;
  for (size_t i = 0; i < j["endpoints"].size(); ++i) {
    config.endpoints.push_back(parse_endpoint(j["endpoints"][i], at("endpoints", i)));
  }
  return config;
}

}  // namespace

PskTable BootstrapConfig::psk_table() const {
  PskTable t;
  for (const EndpointConfig& ep : endpoints)
    if (ep.psk) t.add(*ep.psk);
  return t;
}

const EndpointConfig* BootstrapConfig::find(const std::string& endpoint) const {
  for (const EndpointConfig& ep : endpoints) {
    if (glob_match(ep.match, endpoint)) return &ep;
  }
  return nullptr;
}

Result<BootstrapConfig> parse_bootstrap_config(const std::string& json_text) {
  json j;
  try {
    j = config_json::parse_text(json_text);
  } catch (const ConfigError& e) {
    return Error{ErrorCode::kInvalidArgument, e.message};
  } catch (const json::exception& e) {
    // Parse errors and number overflows both land here. what() starts with
    // "[json.exception.parse_error.101] "; the bracketed id means nothing to a user.
    std::string what = e.what();
    const size_t close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
    return Error{ErrorCode::kInvalidArgument, "bootstrap config is not valid JSON: " + what};
  }
  try {
    return parse_config(j);
  } catch (const ConfigError& e) {
    return Error{ErrorCode::kInvalidArgument, e.message};
  }
}

bool glob_match(const std::string& pattern, const std::string& text) {
  // Greedy with one backtrack point: the last '*' seen absorbs one more
  // character whenever the rest fails to match.
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace hil::server
