#include "emulator/lwm2m/codec/senml_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "emulator/lwm2m/codec/content.h"

namespace hil::lwm2m {
namespace {

using senml::Field;
using senml::Number;
using senml::Record;

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

Result<std::vector<Record>> decode(const std::string& s) {
  return senml_json::decode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Record number(const std::string& name, Number n) {
  Record r;
  r.name = name;
  r.field = Field::Number;
  r.number = n;
  return r;
}
Record string(const std::string& name, const std::string& s, Field f = Field::String) {
  Record r;
  r.name = name;
  r.field = f;
  r.text = s;
  return r;
}

// TS Core 1.1 7.4.4: the Read of /3/0 (Device) in SenML-JSON.
const char kDeviceRead[] = R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
 {"n":"1","vs":"Lightweight M2M Client"},
 {"n":"2","vs":"345000123"},
 {"n":"3","vs":"1.0"},
 {"n":"6/0","v":1},
 {"n":"6/1","v":5},
 {"n":"7/0","v":3800},
 {"n":"7/1","v":5000},
 {"n":"8/0","v":125},
 {"n":"8/1","v":900},
 {"n":"9","v":100},
 {"n":"10","v":15},
 {"n":"11/0","v":0},
 {"n":"13","v":1367491215},
 {"n":"14","vs":"+02:00"},
 {"n":"16","vs":"U"}])";

TEST(SenmlJson, Decode_DeviceReadExample_ResolvesNames) {
  Result<std::vector<Record>> r = decode(kDeviceRead);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 16u);
  EXPECT_EQ((*r)[0], string("/3/0/0", "Open Mobile Alliance"));
  EXPECT_EQ((*r)[4], number("/3/0/6/0", uint64_t{1}));
  EXPECT_EQ((*r)[13], number("/3/0/13", uint64_t{1367491215}));
  EXPECT_EQ((*r)[15], string("/3/0/16", "U"));
}

TEST(SenmlJson, Decode_BaseNameStaysUntilReplaced) {
  Result<std::vector<Record>> r =
      decode(R"([{"bn":"/1/0/","n":"1","v":60},{"n":"7","vs":"U"},{"bn":"/1/1/","n":"1","v":5},)"
             R"({"n":"0","bn":"/3/0/","vs":"x"},{"bn":"/3/0/9","v":1}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[1].name, "/1/0/7");
  EXPECT_EQ((*r)[2].name, "/1/1/1");
  EXPECT_EQ((*r)[3].name, "/3/0/0");  // "bn" applies to its own record wherever it stands
  EXPECT_EQ((*r)[4].name, "/3/0/9");
}

TEST(SenmlJson, Decode_EveryValueField) {
  Result<std::vector<Record>> r = decode(
      R"([{"n":"/a","v":-1.5},{"n":"/b","vs":"x"},{"n":"/c","vb":true},{"n":"/d","vb":false},)"
      R"({"n":"/e","vd":"AAEC_-8"},{"n":"/f","vlo":"3:0"},{"n":"/g"}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ((*r)[0], number("/a", -1.5));
  EXPECT_EQ((*r)[1], string("/b", "x"));
  EXPECT_EQ((*r)[2].field, Field::Boolean);
  EXPECT_TRUE((*r)[2].boolean);
  EXPECT_FALSE((*r)[3].boolean);
  EXPECT_EQ((*r)[4].field, Field::Data);
  EXPECT_EQ((*r)[4].data, (Bytes{0x00, 0x01, 0x02, 0xFF, 0xEF}));
  EXPECT_EQ((*r)[5], string("/f", "3:0", Field::ObjLink));
  EXPECT_EQ((*r)[6].field, Field::None);
}

TEST(SenmlJson, Decode_Numbers_KeepTheirKind) {
  Result<std::vector<Record>> r = decode(
      R"([{"n":"/a","v":0},{"n":"/b","v":-0},{"n":"/c","v":-9223372036854775808},)"
      R"({"n":"/d","v":18446744073709551615},{"n":"/e","v":18446744073709551616},)"
      R"({"n":"/f","v":1e3},{"n":"/g","v":2.5E-1},{"n":"/h","v":-0.0},{"n":"/i","v":1e-400}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].number, Number(uint64_t{0}));
  EXPECT_EQ((*r)[1].number, Number(uint64_t{0}));
  EXPECT_EQ((*r)[2].number, Number(INT64_MIN));
  EXPECT_EQ((*r)[3].number, Number(UINT64_MAX));
  EXPECT_EQ((*r)[4].number, Number(18446744073709551616.0));
  EXPECT_EQ((*r)[5].number, Number(1000.0));
  EXPECT_EQ((*r)[6].number, Number(0.25));
  EXPECT_TRUE(std::signbit(std::get<double>((*r)[7].number)));
  EXPECT_EQ((*r)[8].number, Number(0.0));
}

TEST(SenmlJson, Decode_StringEscapesAndUtf8) {
  Result<std::vector<Record>> r = decode(
      "[{\"n\":\"/a\",\"vs\":\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\xc3\xa9\"}]");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].text, "q\"b\\s/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9");
}

TEST(SenmlJson, Decode_IgnoredAndUnknownFields_Skipped) {
  Result<std::vector<Record>> r =
      decode(R"( [ { "bver" : 10 , "bt":1.5e9,"bu":"s","t":-5,"u":"Cel","ut":30,)"
             R"("ext":{"a":[1,{"b":null},"c",true]}, "n" : "/1/0/1" , "v" : 60 } ] )");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0], number("/1/0/1", uint64_t{60}));
}

TEST(SenmlJson, Decode_EmptyPack) {
  Result<std::vector<Record>> r = decode(" [ ] \n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
}

struct Bad {
  const char* input;
  const char* error;  // expected substring
};

TEST(SenmlJson, Decode_Malformed_ReturnsError) {
  const Bad cases[] = {
      {"", "byte 0: a SenML pack must be a JSON array"},
      {"{}", "must be a JSON array"},
      {"[1]", "record 0, byte 1: a record must be a JSON object"},
      {R"([{"n":"/a","v":1},])", "record 1, byte 18: a record must be a JSON object"},
      {R"([{"n":"/a","v":1}] x)", "byte 19: trailing bytes"},
      {R"([{"n":"/a","v":1,}])", "expected a field name"},
      {R"([{"n":"/a" "v":1}])", "expected ',' or '}'"},
      {R"([{'n':"/a"}])", "expected a field name"},
      {R"([{"n":"/a","v":01}])", "leading zeros"},
      {R"([{"n":"/a","v":1.}])", "invalid number"},
      {R"([{"n":"/a","v":+1}])", "\"v\" must be a number"},
      {R"([{"n":"/a","v":"1"}])", "\"v\" must be a number"},
      {R"([{"n":"/a","v":1e999}])", "out of double range"},
      {R"([{"n":"/a","vb":1}])", "\"vb\" must be true or false"},
      {R"([{"n":"/a","vb":tru}])", "invalid literal"},
      {R"([{"n":"/a","vs":1}])", "\"vs\" must be a string"},
      {R"([{"n":1}])", "\"n\" must be a string"},
      {R"([{"n":"/a","vd":"A"}])", "\"vd\": base64url of impossible length"},
      {R"([{"n":"/a","vd":"AB+/"}])", "is not base64url"},
      {R"([{"n":"/a","vd":"Zh"}])", "non-zero trailing bits"},
      {R"([{"n":"/a","v":1,"vs":"x"}])", "more than one value field (\"v\" and \"vs\")"},
      {R"([{"n":"/a","n":"/b"}])", "duplicate field \"n\""},
      {R"([{"v":1}])", "record 0, byte 8: the record has no name"},
      {R"([{"n":"/a","bv":1,"v":1}])", "\"bv\" (base value, base sum or sum) is not supported"},
      {R"([{"n":"/a","s":1}])", "is not supported"},
      {R"([{"n":"/a","bs":1}])", "is not supported"},
      {R"([{"n":"/a","xyz_":1}])", "must-understand field \"xyz_\""},
      {"[{\"n\":\"/a\",\"vs\":\"a\x01\"}]", "control character"},
      {"[{\"n\":\"/a\",\"vs\":\"\xff\"}]", "not UTF-8"},
      {"[{\"n\":\"/a\",\"vs\":\"\xc0\xaf\"}]", "not UTF-8"},
      {R"([{"n":"/a","vs":"\ud800"}])", "high surrogate escape without a low one"},
      {R"([{"n":"/a","vs":"\udc00"}])", "lone low surrogate"},
      {R"([{"n":"/a","vs":"\u12g4"}])", "four hex digits"},
      {R"([{"n":"/a","vs":"\x"}])", "invalid escape"},
      {R"([{"n":"/a","x":[1 2]}])", "expected ',' or ']'"},
      {R"([{"n":"/a","x":{"k" 1}}])", "expected ':'"},
      {R"([{"n":"/a","x":nul}])", "invalid literal"},
      {R"([{"n":"/a","x":@}])", "expected a JSON value"},
      {"\xef\xbb\xbf[]", "must be a JSON array"},  // no byte order mark
  };
  for (const Bad& c : cases) {
    Result<std::vector<Record>> r = decode(c.input);
    ASSERT_FALSE(r.ok()) << c.input;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.error), std::string::npos)
        << c.input << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.rfind("SenML-JSON ", 0), 0u) << r.error().message;
  }
}

TEST(SenmlJson, Decode_TruncatedAtEveryByte_ReturnsError) {
  const std::string whole =
      std::string(kDeviceRead) + R"( )";  // whitespace after the pack is fine, so cut before it
  const std::string pack = kDeviceRead;
  ASSERT_TRUE(decode(whole).ok());
  for (size_t n = 0; n < pack.size(); ++n) {
    Result<std::vector<Record>> r = decode(pack.substr(0, n));
    EXPECT_FALSE(r.ok()) << "accepted a pack cut at byte " << n;
  }
  const std::string fields =
      R"([{"bn":"/a","n":"b","v":-1.5e+2,"vx":{"k":[true,false,null,"\u00e9"]}},{"vd":"AAE"}])";
  ASSERT_TRUE(decode(fields).ok());
  for (size_t n = 0; n < fields.size(); ++n) {
    EXPECT_FALSE(decode(fields.substr(0, n)).ok()) << "accepted a pack cut at byte " << n;
  }
}

TEST(SenmlJson, Decode_NestingBound) {
  auto nested = [](int levels) {  // levels of arrays inside a skipped field
    return R"([{"n":"/a","x":)" + std::string(levels, '[') + std::string(levels, ']') + "}]";
  };
  EXPECT_TRUE(decode(nested(senml_json::kMaxDepth - 2)).ok());
  Result<std::vector<Record>> deep = decode(nested(senml_json::kMaxDepth - 1));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(deep.error().message.find("nested deeper than 16 levels"), std::string::npos);
  EXPECT_FALSE(decode(nested(100000)).ok());
}

TEST(SenmlJson, Encode_BaseNameAndRelativeNames) {
  const std::vector<Record> records = {string("/3/0/0", "ACME \"x\"\n"),
                                       number("/3/0/6/0", uint64_t{1}),
                                       number("/3/0/9", int64_t{-5}), number("/3/0/13", 2.5)};
  Result<Bytes> b = senml_json::encode(records, "/3/0/");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(str(*b),
            R"([{"bn":"/3/0/","n":"0","vs":"ACME \"x\"\n"},{"n":"6/0","v":1},{"n":"9","v":-5},)"
            R"({"n":"13","v":2.5}])");
  Result<std::vector<Record>> back = senml_json::decode(b->data(), b->size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)[0], records[0]);
  EXPECT_EQ((*back)[2].number, Number(int64_t{-5}));
  EXPECT_EQ(*back, std::vector<Record>(records.begin(), records.end()));
}

TEST(SenmlJson, Encode_EveryField_RoundTrips) {
  Record vb;
  vb.name = "/b";
  vb.field = Field::Boolean;
  vb.boolean = true;
  Record vd;
  vd.name = "/d";
  vd.field = Field::Data;
  vd.data = {0xFB, 0xFF, 0x00};
  Record none;
  none.name = "/n";
  const std::vector<Record> records = {vb, vd, string("/o", "1:2", Field::ObjLink),
                                       string("/s", std::string("a\x01\x7f\0z", 5)), none};
  Result<Bytes> b = senml_json::encode(records);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(str(*b), R"([{"n":"/b","vb":true},{"n":"/d","vd":"-_8A"},{"n":"/o","vlo":"1:2"},)"
                     "{\"n\":\"/s\",\"vs\":\"a\\u0001\x7f\\u0000z\"},{\"n\":\"/n\"}]");
  Result<std::vector<Record>> back = senml_json::decode(b->data(), b->size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, records);
}

TEST(SenmlJson, Encode_FloatsReadBackAsFloats) {
  Result<Bytes> b = senml_json::encode(
      {number("/a", 5.0), number("/b", -0.0), number("/c", 1e20), number("/d", 0.1)});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(str(*b),
            R"([{"n":"/a","v":5.0},{"n":"/b","v":-0.0},{"n":"/c","v":1e+20},{"n":"/d","v":0.1}])");
  Result<std::vector<Record>> back = senml_json::decode(b->data(), b->size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].number, Number(5.0));
}

TEST(SenmlJson, Encode_Unrepresentable_ReturnsError) {
  Result<Bytes> nan = senml_json::encode({number("/a", std::nan(""))});
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.error().message, "SenML-JSON record 0: SenML-JSON has no form for the Float nan");
  EXPECT_FALSE(senml_json::encode({number("/a", HUGE_VAL)}).ok());
  EXPECT_FALSE(senml_json::encode({string("/a", "\xff")}).ok());
  EXPECT_FALSE(senml_json::encode({string("/3/0/1", "x")}, "/1/").ok());
  EXPECT_FALSE(senml_json::encode({string("", "x")}).ok());
}

TEST(SenmlJson, Base64url_Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(senml_json::base64url_encode(bytes(plain)), coded);
    Result<Bytes> d = senml_json::base64url_decode(coded);
    ASSERT_TRUE(d.ok()) << coded;
    EXPECT_EQ(str(*d), plain);
  }
  Result<Bytes> padded = senml_json::base64url_decode("Zm9vYg==");
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(str(*padded), "foob");
  EXPECT_FALSE(senml_json::base64url_decode("Zm9vYg=").ok());
  EXPECT_FALSE(senml_json::base64url_decode("Zm=9").ok());
  EXPECT_FALSE(senml_json::base64url_decode("Zm9v Yg").ok());
}

// --- through content::decode_write and content::encode ---

const ObjectDef& def(uint16_t id) { return *ObjectRegistry::builtin().find(id); }

Result<Instances> write(uint16_t obj, const char* target, const std::string& json) {
  return content::decode_write(def(obj), *Path::parse(target), format::kSenmlJson,
                               reinterpret_cast<const uint8_t*>(json.data()), json.size());
}

std::string error_of(const Result<Instances>& r) { return r.ok() ? "(ok)" : r.error().message; }

TEST(SenmlJsonContent, Write_ServerInstance_AsProfileTestSends) {
  Result<Instances> r = write(1, "/1/0", R"([{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":70}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Instances want = {
      {0, {{0, Resource::single(int64_t{1})}, {1, Resource::single(int64_t{70})}}}};
  EXPECT_EQ(*r, want);
}

TEST(SenmlJsonContent, Write_SecurityObject_TypedInstances) {
  Result<Instances> r =
      write(0, "/0",
            R"([{"bn":"/0/0/","n":"0","vs":"coap://lwm2m.example:5683"},{"n":"1","vb":false},)"
            R"({"n":"2","v":3},{"n":"3","vd":""},{"n":"10","v":101},{"n":"16/0","v":49195},)"
            R"({"n":"17","vlo":"21:0"},{"bn":"/0/1/","n":"1","vb":true},{"n":"5","vd":"qrs"}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  const Instance& a = r->at(0);
  EXPECT_EQ(a.at(0), Resource::single(std::string("coap://lwm2m.example:5683")));
  EXPECT_EQ(a.at(1), Resource::single(false));
  EXPECT_EQ(a.at(2), Resource::single(int64_t{3}));
  EXPECT_EQ(a.at(3), Resource::single(Bytes{}));
  EXPECT_EQ(a.at(10), Resource::single(int64_t{101}));
  EXPECT_EQ(a.at(16), (Resource{true, {{0, uint64_t{49195}}}}));
  EXPECT_EQ(a.at(17), Resource::single(ObjLink{21, 0}));
  EXPECT_EQ(r->at(1).at(1), Resource::single(true));
  EXPECT_EQ(r->at(1).at(5), Resource::single(Bytes{0xAA, 0xBB}));
}

TEST(SenmlJsonContent, Write_MultipleResource_ByInstanceNames) {
  Result<Instances> r =
      write(3, "/3/0/7", R"([{"bn":"/3/0/7/","n":"0","v":3800},{"n":"1","v":5000}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at(0).at(7), (Resource{true, {{0, int64_t{3800}}, {1, int64_t{5000}}}}));
}

TEST(SenmlJsonContent, Write_DeviceReadExample_IntoDeviceInstance) {
  Result<Instances> r = write(3, "/3/0", kDeviceRead);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Instance& d = r->at(0);
  EXPECT_EQ(d.at(6), (Resource{true, {{0, int64_t{1}}, {1, int64_t{5}}}}));
  EXPECT_EQ(d.at(13), Resource::single(int64_t{1367491215}));
  EXPECT_EQ(d.at(16), Resource::single(std::string("U")));
}

TEST(SenmlJsonContent, Write_UnknownResourceSkipped_UnknownTargetRejected) {
  Result<Instances> r = write(1, "/1/0", R"([{"bn":"/1/0/","n":"99","vs":"?"},{"n":"1","v":70}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at(0).size(), 1u);
  EXPECT_EQ(error_of(write(1, "/1/0/99", R"([{"n":"/1/0/99","v":1}])")),
            "/1/0/99: object 1 (LwM2M Server) has no resource 99");
}

TEST(SenmlJsonContent, Write_FloatsForIntegers) {
  Result<Instances> r = write(1, "/1/0/1", R"([{"n":"/1/0/1","v":70.0}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at(0).at(1), Resource::single(int64_t{70}));
  EXPECT_EQ(error_of(write(1, "/1/0/1", R"([{"n":"/1/0/1","v":70.5}])")),
            "/1/0/1: 70.5 is not an integer");
  EXPECT_EQ(error_of(write(1, "/1/0/1", R"([{"n":"/1/0/1","v":9223372036854775808}])")),
            "/1/0/1: 9223372036854775808 is out of range for an Integer (64 bits, signed)");
  EXPECT_EQ(error_of(write(1, "/1/0/13", R"([{"n":"/1/0/13","v":-1}])")),
            "/1/0/13: -1 is negative; an Unsigned Integer cannot be");
}

TEST(SenmlJsonContent, Write_Errors_NameThePath) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([{"n":"/1/0/1","vs":"70"}])", "/1/0/1: Integer needs a \"v\" value, got \"vs\""},
      {R"([{"n":"/1/0/1"}])", "/1/0/1: Integer needs a \"v\" value, got no value"},
      {R"([{"n":"/1/0/6","v":1}])", "/1/0/6: Boolean needs a \"vb\" value, got \"v\""},
      {R"([{"n":"/1/0/10","vlo":"3"}])", "/1/0/10: '3' is not an Objlnk (obj:inst, each 0..65535)"},
      {R"([{"n":"/1/0/1/0","v":1}])",
       "/1/0/1/0: names an instance of /1/0/1, which is a single resource"},
      {R"([{"n":"/1/0/4","v":1}])", "/1/0/4: is executable and carries no value"},
      {R"([{"n":"/1/0/1","v":1},{"n":"/1/0/1","v":2}])", "/1/0/1: appears twice"},
      {R"([{"n":"/1/1/1","v":1}])", "/1/1/1: is outside the target /1/0"},
      {R"([{"n":"/3/0/1","v":1}])", "/3/0/1: is outside the target /1/0"},
      {R"([{"n":"/1/0","v":1}])",
       "/1/0: a Write record must name a resource (/obj/inst/res) or a resource instance "
       "(/obj/inst/res/res-inst)"},
      {R"([{"n":"1/0/1","v":1}])",
       "/1/0: record 0: '1/0/1' is not an LwM2M path: it must start with '/'"},
      {R"([{"bn":"/1/0/","n":"1/","v":1}])",
       "/1/0: record 0: '/1/0/1/' is not an LwM2M path: segment '' is not a number 0..65534"},
      {R"([{"n":"/1/0/1","v":1}]x)", "/1/0: SenML-JSON byte 22: trailing bytes after the pack"},
  };
  for (const auto& [json, want] : cases) EXPECT_EQ(error_of(write(1, "/1/0", json)), want) << json;
  EXPECT_EQ(error_of(write(3, "/3/0", R"([{"n":"/3/0/7","v":1}])")),
            "/3/0/7: is a multiple resource; records must name its instances (/3/0/7/<res-inst>)");
  EXPECT_EQ(error_of(write(3, "/3/0/7", R"([{"n":"/3/0/7/0","v":1},{"n":"/3/0/7/0","v":1}])")),
            "/3/0/7/0: appears twice");
  EXPECT_EQ(error_of(write(3, "/3/0/7", R"([{"n":"/3/0/8/0","v":1}])")),
            "/3/0/8/0: is outside the target /3/0/7");
}

TEST(SenmlJsonContent, Write_EmptyPack_LikeEmptyTlv) {
  Result<Instances> object = write(1, "/1", "[]");
  ASSERT_TRUE(object.ok());
  EXPECT_TRUE(object->empty());
  Result<Instances> instance = write(1, "/1/3", "[]");
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(*instance, (Instances{{3, {}}}));
  EXPECT_EQ(error_of(write(1, "/1/3/1", "[]")), "/1/3/1: a Write on a resource needs a record");
}

TEST(SenmlJsonContent, Encode_ReadAnswers) {
  const Instances data = {{0,
                           {{0, Resource::single(std::string("ACME"))},
                            {7, Resource{true, {{0, int64_t{3800}}, {1, int64_t{-1}}}}}}},
                          {1, {{9, Resource::single(int64_t{100})}}}};
  const ObjectDef& dev = def(3);
  auto enc = [&](const char* target) {
    Result<Bytes> b = content::encode(dev, *Path::parse(target), data, format::kSenmlJson);
    return b.ok() ? str(*b) : b.error().message;
  };
  EXPECT_EQ(enc("/3"),
            R"([{"bn":"/3/","n":"0/0","vs":"ACME"},{"n":"0/7/0","v":3800},{"n":"0/7/1","v":-1},)"
            R"({"n":"1/9","v":100}])");
  EXPECT_EQ(enc("/3/0"),
            R"([{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"7/0","v":3800},{"n":"7/1","v":-1}])");
  EXPECT_EQ(enc("/3/0/7"), R"([{"bn":"/3/0/","n":"7/0","v":3800},{"n":"7/1","v":-1}])");
  EXPECT_EQ(enc("/3/1/9"), R"([{"bn":"/3/1/","n":"9","v":100}])");
  EXPECT_EQ(enc("/3/2"), "/3/2: no such instance in the data to encode");
  EXPECT_EQ(enc("/3/0/1"), "/3/0/1: no such resource in the data to encode");
  EXPECT_EQ(enc("/3/0/99"), "/3/0/99: object 3 (Device) has no resource 99");
}

TEST(SenmlJsonContent, Encode_BadData_ReturnsError) {
  auto enc = [](const Instances& data) {
    Result<Bytes> b = content::encode(def(1), *Path::parse("/1/0"), data, format::kSenmlJson);
    return b.ok() ? str(*b) : b.error().message;
  };
  EXPECT_EQ(enc({{0, {{1, Resource::single(std::string("70"))}}}}),
            "/1/0/1: value \"70\" is not of type Integer");
  EXPECT_EQ(enc({{0, {{99, Resource::single(int64_t{1})}}}}),
            "/1/0/99: is not in the object definition");
  EXPECT_EQ(enc({{0, {{7, Resource::single(std::string("\xff"))}}}}),
            "/1/0/7: a String must be UTF-8 to travel in SenML");
  EXPECT_EQ(enc({{0, {{1, Resource{false, {{1, int64_t{1}}}}}}}}),
            "/1/0/1: a single resource needs exactly one value, at key 0");
  EXPECT_EQ(enc({{0, {{4, Resource::single(int64_t{1})}}}}),
            "/1/0/4: is executable and carries no value");
}

TEST(SenmlJsonContent, SecurityObject_RoundTrip) {
  const Instances data = {{0,
                           {{0, Resource::single(std::string("coaps://x:5684"))},
                            {1, Resource::single(false)},
                            {2, Resource::single(int64_t{0})},
                            {3, Resource::single(Bytes{'i', 'd'})},
                            {5, Resource::single(Bytes{0, 1, 2, 3, 250})},
                            {13, Resource::single(uint64_t{UINT64_MAX})},
                            {16, Resource{true, {{0, uint64_t{1}}, {7, uint64_t{2}}}}},
                            {17, Resource::single(ObjLink{21, 65535})}}},
                          {4, {{0, Resource::single(std::string("\xc3\xa9\t\"\\"))}}}};
  Result<Bytes> b = content::encode(def(0), *Path::parse("/0"), data, format::kSenmlJson);
  ASSERT_TRUE(b.ok()) << b.error().message;
  Result<Instances> back =
      content::decode_write(def(0), *Path::parse("/0"), format::kSenmlJson, b->data(), b->size());
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << str(*b);
  EXPECT_EQ(*back, data);
}

}  // namespace
}  // namespace hil::lwm2m
