#include "emulator/server/bootstrap_config.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/codec/content.h"
#include "emulator/lwm2m/model/object_def.h"

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;

BootstrapConfig parse_ok(const std::string& text) {
  Result<BootstrapConfig> c = parse_bootstrap_config(text);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? *c : BootstrapConfig{};
}

lw::Instances decode(const lw::Request& r) {
  const std::string uri = r.uri_path();
  Result<lw::Path> p = lw::Path::parse(uri);
  EXPECT_TRUE(p.ok());
  const lw::ObjectDef* def = lw::ObjectRegistry::builtin().find(*p->obj);
  Result<lw::Instances> d = lw::content::decode_write(*def, *p, r.content_format.value_or(0),
                                                      r.payload.data(), r.payload.size());
  EXPECT_TRUE(d.ok()) << uri << ": " << (d.ok() ? "" : d.error().message);
  return d.ok() ? *d : lw::Instances{};
}

const lw::Value& value(const lw::Instances& d, uint16_t inst, uint16_t res) {
  return d.at(inst).at(res).values.at(0);
}

TEST(ParseBootstrapConfig, NosecServer_ExpandsToSecurityThenServerWrite) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "dev-*",
      "servers": [{"ssid": 101, "uri": "coap://127.0.0.1:5683",
                   "lifetime": 300, "binding": "UQ"}]}]})");
  ASSERT_EQ(c.endpoints.size(), 1u);
  const EndpointConfig& ep = c.endpoints[0];
  EXPECT_EQ(ep.match, "dev-*");
  EXPECT_FALSE(ep.profile.has_value());
  EXPECT_EQ(ep.finish, FinishPolicy::Auto);
  ASSERT_EQ(ep.commands.size(), 2u);
  EXPECT_EQ(ep.commands[0].method, lw::Method::Put);
  EXPECT_EQ(ep.commands[0].uri_path(), "/0/1");
  EXPECT_EQ(ep.commands[0].content_format, lw::format::kTlv);
  EXPECT_EQ(ep.commands[1].uri_path(), "/1/0");

  const lw::Instances sec = decode(ep.commands[0]);
  EXPECT_EQ(value(sec, 1, 0), lw::Value(std::string("coap://127.0.0.1:5683")));
  EXPECT_EQ(value(sec, 1, 1), lw::Value(false));
  EXPECT_EQ(value(sec, 1, 2), lw::Value(lw::security::kModeNoSec));
  EXPECT_EQ(value(sec, 1, 10), lw::Value(int64_t{101}));
  const lw::Instances srv = decode(ep.commands[1]);
  EXPECT_EQ(value(srv, 0, 0), lw::Value(int64_t{101}));
  EXPECT_EQ(value(srv, 0, 1), lw::Value(int64_t{300}));
  EXPECT_EQ(value(srv, 0, 7), lw::Value(std::string("UQ")));
}

TEST(ParseBootstrapConfig, PskServer_WritesModeIdentityAndKey) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "*",
      "servers": [{"ssid": 1, "uri": "coaps://[::1]:5684",
                   "security_mode": "psk", "psk_identity": "dev-1",
                   "psk_key_hex": "00a1FF"}]}]})");
  const lw::Instances sec = decode(c.endpoints[0].commands[0]);
  EXPECT_EQ(value(sec, 1, 2), lw::Value(lw::security::kModePsk));
  EXPECT_EQ(value(sec, 1, 3), lw::Value(lw::Bytes{'d', 'e', 'v', '-', '1'}));
  EXPECT_EQ(value(sec, 1, 5), lw::Value(lw::Bytes{0x00, 0xa1, 0xff}));
  const lw::Instances srv = decode(c.endpoints[0].commands[1]);
  EXPECT_EQ(value(srv, 0, 1), lw::Value(int64_t{86400}));  // the default
  EXPECT_EQ(value(srv, 0, 7), lw::Value(std::string("U")));
}

TEST(ParseBootstrapConfig, X509Server_WritesModeCertificateTrustAndKey) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "dev-1",
      "security_mode": "x509",
      "servers": [{"ssid": 1, "uri": "coaps://127.0.0.1:5684",
                   "security_mode": "x509", "x509_cert_hex": "3001",
                   "x509_key_hex": "3002", "x509_server_cert_hex": "3003"}]}]})");
  EXPECT_TRUE(c.endpoints[0].x509);
  EXPECT_FALSE(c.endpoints[0].psk);
  const lw::Instances sec = decode(c.endpoints[0].commands[0]);
  EXPECT_EQ(value(sec, 1, 2), lw::Value(lw::security::kModeCert));
  EXPECT_EQ(value(sec, 1, 3), lw::Value(lw::Bytes{0x30, 0x01}));
  EXPECT_EQ(value(sec, 1, 4), lw::Value(lw::Bytes{0x30, 0x03}));
  EXPECT_EQ(value(sec, 1, 5), lw::Value(lw::Bytes{0x30, 0x02}));
  EXPECT_TRUE(c.psk_table().empty());
}

TEST(ParseBootstrapConfig, PskEndpoint_CredentialInItsPskTable) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [
      {"match": "dev-*", "security_mode": "psk", "psk_identity": "{endpoint}",
       "psk_key_hex": "0102"},
      {"match": "*"}]})");
  ASSERT_TRUE(c.endpoints[0].psk);
  EXPECT_FALSE(c.endpoints[1].psk);
  const PskTable t = c.psk_table();
  EXPECT_EQ(t.key_for("dev-3"), (std::vector<uint8_t>{1, 2}));
  EXPECT_TRUE(t.allows("dev-3", "dev-3"));
  EXPECT_FALSE(t.allows("dev-3", "dev-4"));
}

TEST(ParseBootstrapConfig, TwoServers_SecurityWritesFirstThenServers) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "*",
      "servers": [{"ssid": 1, "uri": "coap://a:1"},
                  {"ssid": 2, "uri": "coap://b:2"}]}]})");
  std::vector<std::string> paths;
  for (const lw::Request& r : c.endpoints[0].commands) paths.push_back(r.uri_path());
  EXPECT_EQ(paths, (std::vector<std::string>{"/0/1", "/0/2", "/1/0", "/1/1"}));
}

TEST(ParseBootstrapConfig, DeletesServersWrites_InThatOrder) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "*",
      "delete": ["/", "/1/0"],
      "writes": [{"path": "/1/0/1", "value": 60}],
      "servers": [{"ssid": 1, "uri": "coap://a:1"}]}]})");
  const auto& cmds = c.endpoints[0].commands;
  ASSERT_EQ(cmds.size(), 5u);
  EXPECT_EQ(cmds[0].method, lw::Method::Delete);
  EXPECT_EQ(cmds[0].uri_path(), "/");
  EXPECT_TRUE(cmds[0].payload.empty());
  EXPECT_EQ(cmds[1].uri_path(), "/1/0");
  EXPECT_EQ(cmds[1].method, lw::Method::Delete);
  EXPECT_EQ(cmds[2].uri_path(), "/0/1");
  EXPECT_EQ(cmds[3].uri_path(), "/1/0");
  EXPECT_EQ(cmds[4].uri_path(), "/1/0/1");
  EXPECT_EQ(value(decode(cmds[4]), 0, 1), lw::Value(int64_t{60}));
}

TEST(ParseBootstrapConfig, TypedValues_FollowObjectDefinitions) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "*",
      "writes": [
        {"path": "/0/0", "resources": {"0": "coap://bs:5683", "1": true,
                                       "2": 3, "4": {"hex": "beef"}}},
        {"path": "/1/0/10", "value": "3:0"},
        {"path": "/2/0", "resources": {"0": 1, "1": 0, "2": {"101": 15},
                                       "3": 101}},
        {"path": "/2", "instances": {"1": {"0": 3, "1": 0, "2": [1, 2],
                                           "3": 1}}}]}]})");
  const auto& cmds = c.endpoints[0].commands;
  ASSERT_EQ(cmds.size(), 4u);
  const lw::Instances bs = decode(cmds[0]);
  EXPECT_EQ(value(bs, 0, 1), lw::Value(true));
  EXPECT_EQ(value(bs, 0, 4), lw::Value(lw::Bytes{0xbe, 0xef}));
  EXPECT_EQ(value(decode(cmds[1]), 0, 10), lw::Value(lw::ObjLink{3, 0}));
  const lw::Instances acl = decode(cmds[2]);
  EXPECT_EQ(acl.at(0).at(2).values.at(101), lw::Value(int64_t{15}));
  const lw::Instances objw = decode(cmds[3]);
  EXPECT_EQ(objw.at(1).at(2).values.at(1), lw::Value(int64_t{2}));
}

TEST(ParseBootstrapConfig, TextFormat_SingleResourcesAsTextInstancesAsTlv) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "*",
      "content_format": "text",
      "writes": [{"path": "/1/0/1", "value": 60},
                 {"path": "/0/1/5", "value": {"hex": "01"}},
                 {"path": "/1/0", "resources": {"1": 60}}]}]})");
  const auto& cmds = c.endpoints[0].commands;
  EXPECT_EQ(cmds[0].content_format, lw::format::kText);
  EXPECT_EQ(std::string(cmds[0].payload.begin(), cmds[0].payload.end()), "60");
  EXPECT_EQ(cmds[1].content_format, lw::format::kOpaque);
  EXPECT_EQ(cmds[2].content_format, lw::format::kTlv);
}

TEST(ParseBootstrapConfig, ProfileAndFinish_Parsed) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [
      {"match": "a", "profile": "cr", "finish": true},
      {"match": "b", "profile": "1.1", "finish": false},
      {"match": "c", "profile": "1.0", "finish": "auto"}]})");
  EXPECT_EQ(c.endpoints[0].profile, lw::Profile::Cr);
  EXPECT_EQ(c.endpoints[0].finish, FinishPolicy::Always);
  EXPECT_EQ(c.endpoints[1].profile, lw::Profile::V1_1);
  EXPECT_EQ(c.endpoints[1].finish, FinishPolicy::Never);
  EXPECT_EQ(c.endpoints[2].profile, lw::Profile::V1_0);
  EXPECT_EQ(c.endpoints[2].finish, FinishPolicy::Auto);
}

TEST(BootstrapConfigFind, SeveralMatch_FirstWins) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [
      {"match": "dev-1?"}, {"match": "dev-*"}, {"match": "*"}]})");
  EXPECT_EQ(c.find("dev-12")->match, "dev-1?");
  EXPECT_EQ(c.find("dev-123")->match, "dev-*");
  EXPECT_EQ(c.find("other")->match, "*");
}

TEST(BootstrapConfigFind, NoneMatches_Null) {
  const BootstrapConfig c = parse_ok(R"({"endpoints": [{"match": "dev-*"}]})");
  EXPECT_EQ(c.find("sensor-1"), nullptr);
}

TEST(ParseBootstrapConfig, NoContentFormat_AlsoEncodesBothSenmlFormats) {
  Result<BootstrapConfig> c = parse_bootstrap_config(R"({"endpoints": [{"match": "*",
      "delete": ["/"], "servers": [{"ssid": 7, "uri": "coap://h:1", "lifetime": 60}]}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const EndpointConfig& ep = c->endpoints[0];
  EXPECT_FALSE(ep.content_format);
  for (uint16_t f : {lw::format::kSenmlJson, lw::format::kSenmlCbor}) {
    const std::vector<lw::Request>& cmds = ep.by_format.at(f);
    ASSERT_EQ(cmds.size(), 3u);
    EXPECT_EQ(cmds[0].method, lw::Method::Delete);
    EXPECT_EQ(cmds[1].uri_path(), "/0/1");
    EXPECT_EQ(cmds[1].content_format, f);
    // The same account as the TLV write carries.
    EXPECT_EQ(decode(cmds[1]), decode(ep.commands[1]));
    EXPECT_EQ(decode(cmds[2]), decode(ep.commands[2]));
  }
}

TEST(ParseBootstrapConfig, ContentFormatSenmlJson_FixesFormatNoAlternatives) {
  Result<BootstrapConfig> c = parse_bootstrap_config(R"({"endpoints": [{"match": "*",
      "content_format": "senml-json", "writes": [{"path": "/1/0/1", "value": 60}]}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const EndpointConfig& ep = c->endpoints[0];
  EXPECT_EQ(ep.content_format, lw::format::kSenmlJson);
  EXPECT_TRUE(ep.by_format.empty());
  ASSERT_EQ(ep.commands.size(), 1u);
  EXPECT_EQ(ep.commands[0].content_format, lw::format::kSenmlJson);
  EXPECT_EQ(decode(ep.commands[0]).at(0).at(1).values.at(0), lw::Value(int64_t{60}));
}

TEST(ParseBootstrapConfig, OptionalDeleteAndWrite_IndexesRecorded) {
  Result<BootstrapConfig> c = parse_bootstrap_config(R"({"endpoints": [{"match": "*",
      "delete": ["/0", {"path": "/2", "optional": true}],
      "writes": [{"path": "/1/0/1", "value": 60},
                 {"path": "/1/0/7", "value": "U", "optional": true}]}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const EndpointConfig& ep = c->endpoints[0];
  ASSERT_EQ(ep.commands.size(), 4u);
  EXPECT_EQ(ep.commands[1].uri_path(), "/2");
  EXPECT_EQ(ep.optional, (std::set<size_t>{1, 3}));
}

TEST(ParseBootstrapConfig, DiscoverAndRead_GetsFirstWithAcceptPerFormat) {
  Result<BootstrapConfig> c = parse_bootstrap_config(R"({"endpoints": [{"match": "*",
      "discover": ["/", "/1"], "read": [{"path": "/2/0", "optional": true}, "/1"],
      "delete": [{"path": "/2", "optional": true}],
      "writes": [{"path": "/1/0/1", "value": 60}]}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const EndpointConfig& ep = c->endpoints[0];
  std::vector<std::string> lines;
  for (const lw::Request& r : ep.commands)
    lines.push_back(lw::to_string(r.method) + " " + r.uri_path());
  EXPECT_EQ(lines, (std::vector<std::string>{"GET /", "GET /1", "GET /2/0", "GET /1", "DELETE /2",
                                             "PUT /1/0/1"}));
  EXPECT_EQ(ep.commands[0].accept, lw::format::kLinkFormat);
  EXPECT_EQ(ep.commands[1].accept, lw::format::kLinkFormat);
  EXPECT_EQ(ep.commands[2].accept, lw::format::kTlv);
  EXPECT_EQ(ep.optional, (std::set<size_t>{2, 4}));
  EXPECT_EQ(ep.by_format.at(lw::format::kSenmlCbor)[3].accept, lw::format::kSenmlCbor);
  EXPECT_EQ(ep.by_format.at(lw::format::kSenmlCbor)[0].accept, lw::format::kLinkFormat);
}

TEST(ParseBootstrapConfig, ReadWithFixedTextFormat_AsksForTlv) {
  Result<BootstrapConfig> c = parse_bootstrap_config(
      R"({"endpoints": [{"match": "*", "content_format": "text", "read": ["/1"]}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->endpoints[0].commands.at(0).accept, lw::format::kTlv);
}

TEST(ParseBootstrapConfig, NestedFarTooDeep_ErrorNotCrash) {
  const size_t depth = 100000;
  for (const char* open : {"[", "{\"a\":"}) {
    std::string text;
    for (size_t i = 0; i < depth; ++i) text += open;
    text += "1" + std::string(depth, open[0] == '[' ? ']' : '}');
    Result<BootstrapConfig> c = parse_bootstrap_config(text);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(c.error().message.find("nested deeper than 32 levels"), std::string::npos)
        << c.error().message;
  }
}

TEST(ParseBootstrapConfig, LongStringCutInsideUtf8_ErrorNotThrow) {
  // 33 ASCII bytes, then a two-byte character across the 34-byte cut.
  Result<BootstrapConfig> c = parse_bootstrap_config("\"" + std::string(33, '=') + "\xc3\xbc" +
                                                     std::string(10, '=') + "\"");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("..."), std::string::npos) << c.error().message;
}

TEST(ParseBootstrapConfig, LongValueInError_Shortened) {
  Result<BootstrapConfig> c =
      parse_bootstrap_config("{\"endpoints\": \"" + std::string(100000, 'x') + "\"}");
  ASSERT_FALSE(c.ok());
  EXPECT_LT(c.error().message.size(), 120u) << c.error().message;
}

struct BadCase {
  const char* json;
  const char* message;  // expected to appear in the error
};

class ParseBootstrapConfigError : public testing::TestWithParam<BadCase> {};

TEST_P(ParseBootstrapConfigError, InvalidInput_ErrorNamesFieldAndAllowed) {
  Result<BootstrapConfig> c = parse_bootstrap_config(GetParam().json);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find(GetParam().message), std::string::npos)
      << "got: " << c.error().message;
}

// Wraps one endpoint entry (given without braces) into a whole config.
#define EP(body) "{\"endpoints\": [{\"match\": \"*\", " body "}]}"
#define SERVER(fields) EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coap://a:1\", " fields "}]")

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseBootstrapConfigError,
    testing::Values(
        BadCase{"{\"endpoints\": [}", "not valid JSON: parse error at line 1, column 16"},
        BadCase{"{\n  \"endpoints\": 5,\n}", "line 3, column 1"},
        BadCase{"{\"endpoints\": 1e999}", "not valid JSON: number overflow parsing '1e999'"},
        BadCase{"[]", "config: expected an object, got []"},
        BadCase{"{\"endpoints\": [], \"endpoints\": []}", "config: duplicate key \"endpoints\""},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"ssid\": 2}]"),
                "endpoints[0].servers[0]: duplicate key \"ssid\""},
        BadCase{
            "{\"endpoints\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
            "nested deeper than 32 levels"},
        BadCase{"{}", "config: missing \"endpoints\""},
        BadCase{"{\"endpoints\": [], \"x\": 1}", "config: unknown key \"x\" (allowed: endpoints)"},
        BadCase{"{\"endpoints\": [{}]}", "endpoints[0]: missing \"match\""},
        BadCase{EP("\"server\": []"),
                "endpoints[0]: unknown key \"server\" (allowed: match, profile, "
                "discover, read, delete, servers, writes, finish, content_format, "
                "security_mode, psk_identity, psk_key_hex)"},
        BadCase{EP("\"read\": [\"/1/0/1\"]"),
                "endpoints[0].read[0]: Bootstrap-Read targets /obj or /obj/inst, got '/1/0/1'"},
        BadCase{EP("\"read\": [\"/\"]"),
                "endpoints[0].read[0]: Bootstrap-Read targets /obj or /obj/inst, got '/'"},
        BadCase{EP("\"discover\": [{\"path\": \"/1/0\"}]"),
                "endpoints[0].discover[0].path: Bootstrap-Discover targets / or /obj, got "
                "'/1/0'"},
        BadCase{EP("\"discover\": \"/\""), "endpoints[0].discover: expected an array"},
        BadCase{EP("\"read\": [{\"path\": \"/1\", \"optional\": \"yes\"}]"),
                "endpoints[0].read[0].optional: expected true or false"},
        BadCase{EP("\"read\": [{\"path\": \"/1\", \"accept\": 40}]"),
                "endpoints[0].read[0]: unknown key \"accept\" (allowed: path, optional)"},
        BadCase{EP("\"security_mode\": \"psk\", \"psk_identity\": \"{endpoint}\""),
                "endpoints[0]: psk needs \"psk_key_hex\""},
        BadCase{EP("\"profile\": \"1.2\""),
                "endpoints[0].profile: expected \"cr\", \"1.0\" or \"1.1\", "
                "got \"1.2\""},
        BadCase{EP("\"finish\": \"yes\""),
                "endpoints[0].finish: expected \"auto\", true or false, got "
                "\"yes\""},
        BadCase{EP("\"content_format\": \"json\""),
                "endpoints[0].content_format: expected \"tlv\", \"text\", \"senml-json\" or "
                "\"senml-cbor\", got \"json\""},
        BadCase{EP("\"delete\": [{\"path\": \"/2\", \"optional\": 1}]"),
                "endpoints[0].delete[0].optional: expected true or false, got 1"},
        BadCase{EP("\"delete\": [{\"optional\": true}]"),
                "endpoints[0].delete[0]: missing \"path\""},
        BadCase{EP("\"delete\": \"/0\""), "endpoints[0].delete: expected an array"},
        BadCase{EP("\"delete\": [\"/0/1/2\"]"),
                "endpoints[0].delete[0]: Delete targets /, /obj or /obj/inst"},
        BadCase{EP("\"delete\": [\"0\"]"), "endpoints[0].delete[0]: '0' is not an LwM2M path"},
        BadCase{SERVER("\"lifetime\": \"abc\""),
                "endpoints[0].servers[0].lifetime: expected an integer "
                "1..4294967295, got \"abc\""},
        BadCase{SERVER("\"lifetime\": 0"), "servers[0].lifetime: expected an integer"},
        BadCase{EP("\"servers\": [{\"ssid\": 0, \"uri\": \"coap://a:1\"}]"),
                "endpoints[0].servers[0].ssid: expected an integer 1..65534, "
                "got 0"},
        BadCase{EP("\"servers\": [{\"uri\": \"coap://a:1\"}]"),
                "endpoints[0].servers[0]: missing \"ssid\""},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coap://a:1\"}, "
                   "{\"ssid\": 1, \"uri\": \"coap://b:1\"}]"),
                "endpoints[0].servers[1].ssid: 1 is used by another server"},
        BadCase{SERVER("\"binding\": \"X\""),
                "endpoints[0].servers[0].binding: expected binding letters"},
        BadCase{SERVER("\"security_mode\": \"cert\""),
                "endpoints[0].servers[0].security_mode: expected \"nosec\", "
                "\"psk\" or \"x509\", got \"cert\""},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coaps://a:1\", "
                   "\"security_mode\": \"x509\", \"x509_cert_hex\": \"30\", "
                   "\"x509_key_hex\": \"30\"}]"),
                "endpoints[0].servers[0]: x509 needs \"x509_server_cert_hex\""},
        BadCase{SERVER("\"x509_cert_hex\": \"30\""),
                "endpoints[0].servers[0].x509_cert_hex: only allowed with "
                "security_mode \"x509\""},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coap://a:1\", "
                   "\"security_mode\": \"x509\", \"x509_cert_hex\": \"30\", "
                   "\"x509_key_hex\": \"30\", \"x509_server_cert_hex\": \"30\"}]"),
                "endpoints[0].servers[0].uri: security_mode x509 needs a coaps://"},
        BadCase{SERVER("\"psk_identity\": \"x\""),
                "endpoints[0].servers[0].psk_identity: only allowed with "
                "security_mode \"psk\""},
        BadCase{SERVER("\"port\": 5683"),
                "endpoints[0].servers[0]: unknown key \"port\" (allowed: ssid, "
                "uri, "
                "lifetime, binding, security_mode, psk_identity, psk_key_hex, "
                "x509_cert_hex, x509_key_hex, x509_server_cert_hex)"},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coap://a:1\", "
                   "\"security_mode\": \"psk\", \"psk_identity\": \"i\", "
                   "\"psk_key_hex\": \"00\"}]"),
                "endpoints[0].servers[0].uri: security_mode psk needs a coaps://"},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coaps://a:1\", "
                   "\"security_mode\": \"psk\", \"psk_identity\": \"i\", "
                   "\"psk_key_hex\": \"abc\"}]"),
                "endpoints[0].servers[0].psk_key_hex: expected an even number of "
                "hex digits"},
        BadCase{EP("\"servers\": [{\"ssid\": 1, \"uri\": \"coaps://a:1\", "
                   "\"security_mode\": \"psk\", \"psk_key_hex\": \"ab\"}]"),
                "endpoints[0].servers[0]: psk needs \"psk_identity\""},
        BadCase{EP("\"writes\": [{\"path\": \"/x\", \"value\": 1}]"),
                "endpoints[0].writes[0].path: '/x' is not an LwM2M path"},
        BadCase{EP("\"writes\": [{\"path\": \"/6/0/1\", \"value\": 1}]"),
                "endpoints[0].writes[0].path: object 6 has no definition (known "
                "objects: 0, 1, 2, 3, 4, 5, 7)"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0/99\", \"value\": 1}]"),
                "endpoints[0].writes[0].path: object 1 (LwM2M Server) has no "
                "resource 99"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0\", \"resources\": {\"1\": "
                   "\"x\"}}]"),
                "endpoints[0].writes[0].resources.1: expected a signed 64-bit "
                "integer (Lifetime is Integer), got \"x\""},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0\", \"resources\": {\"4\": 1}}]"),
                "endpoints[0].writes[0].resources.4: resource 4 (Disable) is "
                "executable"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0\", \"value\": 1}]"),
                "endpoints[0].writes[0]: unknown key \"value\" (allowed: path, "
                "resources, optional)"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0/1\"}]"),
                "endpoints[0].writes[0]: a write to a resource needs \"value\""},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0/1/0\", \"value\": 1}]"),
                "endpoints[0].writes[0].path: a write targets /obj, /obj/inst or "
                "/obj/inst/res"},
        BadCase{EP("\"writes\": [{\"path\": \"/0/1/5\", \"value\": \"01\"}]"),
                "endpoints[0].writes[0].value: expected {\"hex\": \"<hex "
                "digits>\"}"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0/10\", \"value\": \"3-0\"}]"),
                "endpoints[0].writes[0].value: expected \"<object>:<instance>\""},
        BadCase{EP("\"writes\": [{\"path\": \"/2/0/2\", \"value\": 5}]"),
                "endpoints[0].writes[0].value: resource 2 (ACL) is multiple"},
        BadCase{EP("\"writes\": [{\"path\": \"/1/0\", \"resources\": {\"x\": 1}}]"),
                "endpoints[0].writes[0].resources.x: key \"x\" is not an id"}));

}  // namespace
}  // namespace hil::server
