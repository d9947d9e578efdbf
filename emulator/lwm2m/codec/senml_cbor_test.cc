#include "emulator/lwm2m/codec/senml_cbor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "emulator/lwm2m/codec/content.h"

namespace hil::lwm2m {
namespace {

using senml::Field;
using senml::Number;
using senml::Record;

// "82 a3 21 ..." -> bytes; spaces are ignored.
Bytes hex(const std::string& text) {
  Bytes out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

// A CBOR text string head and body.
std::string tstr(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  auto byte = [&](uint8_t b) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
    out += ' ';
  };
  if (s.size() < 24) {
    byte(static_cast<uint8_t>(0x60 | s.size()));
  } else {
    byte(0x78);
    byte(static_cast<uint8_t>(s.size()));
  }
  for (char c : s) byte(static_cast<uint8_t>(c));
  return out;
}

std::string show(const Bytes& b) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    if (!out.empty()) out += ' ';
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

Result<std::vector<Record>> decode(const Bytes& b) {
  return senml_cbor::decode(b.data(), b.size());
}

Record number(const std::string& name, Number n) {
  Record r;
  r.name = name;
  r.field = Field::Number;
  r.number = n;
  return r;
}

// The Device read of TS Core 7.4.4 in SenML-CBOR: bn, string, multiple
// resource instances, integers of several widths.
std::string device_read() {
  return "86 a3 21 " + tstr("/3/0/") + "00 " + tstr("0") + "03 " + tstr("Open Mobile Alliance") +
         "a2 00 " + tstr("6/0") + "02 01" +        //
         "a2 00 " + tstr("7/0") + "02 19 0e d8" +  // 3800
         "a2 00 " + tstr("9") + "02 18 64" +       // 100
         "a2 00 " + tstr("13") + "02 1a 51 82 42 8f" + "a2 00 " + tstr("16") + "03 " + tstr("U");
}

TEST(SenmlCbor, Decode_DeviceReadExample_ResolvesNames) {
  Result<std::vector<Record>> r = decode(hex(device_read()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].name, "/3/0/0");
  EXPECT_EQ((*r)[0].text, "Open Mobile Alliance");
  EXPECT_EQ((*r)[1], number("/3/0/6/0", uint64_t{1}));
  EXPECT_EQ((*r)[2], number("/3/0/7/0", uint64_t{3800}));
  EXPECT_EQ((*r)[3], number("/3/0/9", uint64_t{100}));
  EXPECT_EQ((*r)[4], number("/3/0/13", uint64_t{1367491215}));
  EXPECT_EQ((*r)[5].text, "U");
}

TEST(SenmlCbor, Decode_EveryValueFieldAndIgnoredLabels) {
  const std::string pack =
      "85"
      "a3 00 " +
      tstr("/a") + "02 f9 3e 00 06 fb 41 d4 00 00 00 00 00 00" + "a2 00 " + tstr("/b") +
      "04 f5" +                                   //
      "a2 00 " + tstr("/c") + "08 43 01 02 ff" +  //
      "a2 00 " + tstr("/d") + tstr("vlo") + tstr("3:0") + "a5 20 0a 23 00 01 " + tstr("Cel") +
      "07 18 1e 00 " + tstr("/e");
  Result<std::vector<Record>> r = decode(hex(pack));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0], number("/a", 1.5));
  EXPECT_EQ((*r)[1].field, Field::Boolean);
  EXPECT_TRUE((*r)[1].boolean);
  EXPECT_EQ((*r)[2].data, (Bytes{1, 2, 0xFF}));
  EXPECT_EQ((*r)[3].field, Field::ObjLink);
  EXPECT_EQ((*r)[3].text, "3:0");
  EXPECT_EQ((*r)[4].name, "/e");
  EXPECT_EQ((*r)[4].field, Field::None);
}

TEST(SenmlCbor, Decode_Numbers) {
  const std::pair<const char*, Number> cases[] = {
      {"00", uint64_t{0}},
      {"17", uint64_t{23}},
      {"18 18", uint64_t{24}},
      {"19 01 00", uint64_t{256}},
      {"1b 00 00 00 00 00 00 00 01", uint64_t{1}},  // not minimal, still fine
      {"1b ff ff ff ff ff ff ff ff", UINT64_MAX},
      {"20", int64_t{-1}},
      {"3b 7f ff ff ff ff ff ff ff", INT64_MIN},
      {"3b ff ff ff ff ff ff ff ff", -18446744073709551616.0},
      {"f9 3c 00", 1.0},
      {"f9 7b ff", 65504.0},
      {"f9 00 01", 5.960464477539063e-8},
      {"f9 c4 00", -4.0},
      {"f9 7c 00", HUGE_VAL},
      {"fa 47 c3 50 00", 100000.0},
      {"fb 3f f1 99 99 99 99 99 9a", 1.1},
  };
  for (const auto& [v, want] : cases) {
    Result<std::vector<Record>> r = decode(hex("81 a2 00 " + tstr("/n") + "02 " + v));
    ASSERT_TRUE(r.ok()) << v << ": " << r.error().message;
    EXPECT_EQ((*r)[0].number, want) << v;
  }
  Result<std::vector<Record>> nan = decode(hex("81 a2 00 " + tstr("/n") + "02 f9 7e 00"));
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(std::get<double>((*nan)[0].number)));
}

TEST(SenmlCbor, Decode_IndefiniteArraysAndMaps) {
  Result<std::vector<Record>> r =
      decode(hex("9f bf 00 " + tstr("/a") + "02 01 ff a2 00 " + tstr("/b") +
                 "18 63 9f 01 bf 01 02 ff ff ff"));  // an unknown label holding [1, {1: 2}]
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], number("/a", uint64_t{1}));
  EXPECT_EQ((*r)[1].name, "/b");
}

struct Bad {
  std::string input;  // hex
  const char* error;  // expected substring
};

TEST(SenmlCbor, Decode_Malformed_ReturnsError) {
  const std::string n = "00 " + tstr("/a");
  const Bad cases[] = {
      {"", "byte 0: unexpected end of input"},
      {"a0", "byte 0: a SenML pack must be a CBOR array of records"},
      {"81 01", "record 0, byte 1: a record must be a CBOR map"},
      {"80 00", "byte 1: trailing bytes after the pack"},
      {"82 a1 " + n, "record 1, byte 6: unexpected end of input"},
      {"81 a1 " + n + "ff", "trailing bytes"},
      {"ff", "byte 0: unexpected break"},
      {"81 a2 " + n + "02 ff", "byte 7: unexpected break"},
      {"1c", "reserved additional information 28"},
      {"81 a2 " + n + "02 1f", "cannot have an indefinite length"},
      {"81 a2 " + n + "03 7f 61 61 ff", "indefinite-length (chunked) strings are not supported"},
      {"81 a2 " + n + "02 c1 01", "CBOR tags are not supported"},
      {"81 a2 " + n + "18 63 e0", "simple value 0 is not supported"},
      {"81 a2 " + n + "18 63 f8 10", "malformed two-byte simple value"},
      {"81 a2 " + n + "02 " + tstr("1"), "v (2) must be an integer or a float"},
      {"81 a2 " + n + "02 f6", "v (2) must be an integer or a float"},
      {"81 a2 " + n + "03 41 61", "vs (3) must be a text string"},
      {"81 a2 " + n + "04 01", "vb (4) must be true or false"},
      {"81 a2 " + n + "08 " + tstr("AA"), "vd (8) must be a byte string"},
      {"81 a2 " + n + tstr("vlo") + "01", "vlo must be a text string"},
      {"81 a1 00 01", "n (0) must be a text string"},
      {"81 a2 " + n + "03 61 ff", "text string is not UTF-8"},
      {"81 a2 " + n + "03 62 c0 af", "text string is not UTF-8"},
      {"81 a3 " + n + "02 01 03 " + tstr("x"), "more than one value field (v and vs)"},
      {"81 a2 " + n + n, "duplicate key 0"},
      {"81 a3 " + n + tstr("vlo") + tstr("1:1") + tstr("vlo") + tstr("1:2"),
       "duplicate key \"vlo\""},
      {"81 a1 02 01", "record 0, byte 4: the record has no name"},
      {"81 a3 " + n + "24 01 02 01", "label -5 (base value, base sum or sum) is not supported"},
      {"81 a2 " + n + "25 01", "label -6"},
      {"81 a2 " + n + "05 01", "label 5"},
      {"81 a2 " + n + tstr("x_") + "01", "must-understand key \"x_\""},
      {"81 a2 " + n + "f5 01", "map keys must be integer labels or text"},
      {"81 a2 " + n + "03 7a ff ff ff ff", "unexpected end of input"},
      {"9b ff ff ff ff ff ff ff ff", "unexpected end of input"},
  };
  for (const Bad& c : cases) {
    Result<std::vector<Record>> r = decode(hex(c.input));
    ASSERT_FALSE(r.ok()) << c.input;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.error), std::string::npos)
        << c.input << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.rfind("SenML-CBOR ", 0), 0u) << r.error().message;
  }
}

TEST(SenmlCbor, Decode_TruncatedAtEveryByte_ReturnsError) {
  const std::string packs[] = {
      device_read(),
      "9f bf 00 " + tstr("/a") + "02 fb 3f f1 99 99 99 99 99 9a 18 63 9f 01 bf 01 02 ff ff ff" +
          "a2 00 " + tstr("/b") + "08 43 01 02 03 ff",
  };
  for (const std::string& p : packs) {
    const Bytes whole = hex(p);
    ASSERT_TRUE(decode(whole).ok());
    for (size_t len = 0; len < whole.size(); ++len) {
      Result<std::vector<Record>> r = senml_cbor::decode(whole.data(), len);
      EXPECT_FALSE(r.ok()) << "accepted a pack cut at byte " << len;
    }
  }
}

TEST(SenmlCbor, Decode_NestingBound) {
  auto nested = [](int levels) {  // arrays inside an unknown label
    std::string s = "81 a2 00 " + tstr("/a") + "18 63 ";
    for (int i = 0; i < levels; ++i) s += "81 ";
    return s + "00";
  };
  EXPECT_TRUE(decode(hex(nested(senml_cbor::kMaxDepth - 2))).ok());
  Result<std::vector<Record>> deep = decode(hex(nested(senml_cbor::kMaxDepth - 1)));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(deep.error().message.find("nested deeper than 16 levels"), std::string::npos);
  EXPECT_FALSE(decode(hex(nested(100000))).ok());
}

TEST(SenmlCbor, Encode_ShortestForms) {
  Record s;
  s.name = "/3/0/0";
  s.field = Field::String;
  s.text = "ACME";
  Record b;
  b.name = "/3/0/1";
  b.field = Field::Boolean;
  Record d;
  d.name = "/3/0/2";
  d.field = Field::Data;
  d.data = {0xAA};
  Record o;
  o.name = "/3/0/3";
  o.field = Field::ObjLink;
  o.text = "1:2";
  Record none;
  none.name = "/3/0/";
  const std::vector<Record> records = {
      s, b, d, o, number("/3/0/4", uint64_t{24}), number("/3/0/5", int64_t{-500}), none};
  Result<Bytes> out = senml_cbor::encode(records, "/3/0/");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(show(*out),
            show(hex("87 a3 21 " + tstr("/3/0/") + "00 " + tstr("0") + "03 " + tstr("ACME") +
                     "a2 00 " + tstr("1") + "04 f4" + "a2 00 " + tstr("2") + "08 41 aa" + "a2 00 " +
                     tstr("3") + tstr("vlo") + tstr("1:2") + "a2 00 " + tstr("4") + "02 18 18" +
                     "a2 00 " + tstr("5") + "02 39 01 f3" + "a0")));
  Result<std::vector<Record>> back = decode(*out);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, records);
}

TEST(SenmlCbor, Encode_FloatsTakeTheShortestExactWidth) {
  const std::pair<double, const char*> cases[] = {
      {0.0, "f9 00 00"},
      {-0.0, "f9 80 00"},
      {1.0, "f9 3c 00"},
      {1.5, "f9 3e 00"},
      {65504.0, "f9 7b ff"},
      {5.960464477539063e-8, "f9 00 01"},
      {6.103515625e-05, "f9 04 00"},
      {HUGE_VAL, "f9 7c 00"},
      {-HUGE_VAL, "f9 fc 00"},
      {std::nan(""), "f9 7e 00"},
      {100000.0, "fa 47 c3 50 00"},
      {3.4028234663852886e+38, "fa 7f 7f ff ff"},
      {65505.0, "fa 47 7f e1 00"},
      {1.1, "fb 3f f1 99 99 99 99 99 9a"},
      {1e300, "fb 7e 37 e4 3c 88 00 75 9c"},
  };
  for (const auto& [v, want] : cases) {
    Result<Bytes> out = senml_cbor::encode({number("/n", v)});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(show(*out), show(hex("81 a2 00 " + tstr("/n") + "02 " + want))) << v;
    Result<std::vector<Record>> back = decode(*out);
    ASSERT_TRUE(back.ok());
    const double got = std::get<double>((*back)[0].number);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(got, v);
      EXPECT_EQ(std::signbit(got), std::signbit(v));
    }
  }
}

TEST(SenmlCbor, Encode_Unrepresentable_ReturnsError) {
  Record bad;
  bad.name = "/a";
  bad.field = Field::String;
  bad.text = "\xff";
  EXPECT_FALSE(senml_cbor::encode({bad}).ok());
  EXPECT_FALSE(senml_cbor::encode({number("/3/0/1", uint64_t{1})}, "/1/").ok());
  EXPECT_FALSE(senml_cbor::encode({number("", uint64_t{1})}).ok());
}

// --- through content::decode_write and content::encode ---

const ObjectDef& def(uint16_t id) { return *ObjectRegistry::builtin().find(id); }

Result<Instances> write(uint16_t obj, const char* target, const Bytes& b) {
  return content::decode_write(def(obj), *Path::parse(target), format::kSenmlCbor, b.data(),
                               b.size());
}

TEST(SenmlCborContent, Write_ServerInstance) {
  Result<Instances> r = write(1, "/1/0",
                              hex("83 a3 21 " + tstr("/1/0/") + "00 " + tstr("0") + "02 01 a2 00 " +
                                  tstr("1") + "02 18 46 a2 00 " + tstr("7") + "03 " + tstr("UQ")));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Instances want = {{0,
                           {{0, Resource::single(int64_t{1})},
                            {1, Resource::single(int64_t{70})},
                            {7, Resource::single(std::string("UQ"))}}}};
  EXPECT_EQ(*r, want);
}

TEST(SenmlCborContent, Write_Errors_NameThePath) {
  auto error_of = [](const Result<Instances>& r) { return r.ok() ? "(ok)" : r.error().message; };
  EXPECT_EQ(error_of(write(1, "/1/0", hex("81 a2 00 " + tstr("/1/0/1") + "02 f9 3e 00"))),
            "/1/0/1: 1.5 is not an integer");
  EXPECT_EQ(error_of(write(1, "/1/0", hex("81 a2 00 " + tstr("/1/0/6") + "02 01"))),
            "/1/0/6: Boolean needs a \"vb\" value, got \"v\"");
  EXPECT_EQ(error_of(write(1, "/1/0", hex("81 a2 00 " + tstr("/1/0/1") + "02"))),
            "/1/0: SenML-CBOR record 0, byte 11: unexpected end of input");
  EXPECT_EQ(error_of(write(0, "/0/0", hex("81 a2 00 " + tstr("/0/0/16") + "02 20"))),
            "/0/0/16: is a multiple resource; records must name its instances "
            "(/0/0/16/<res-inst>)");
}

TEST(SenmlCborContent, Device_RoundTrip) {
  const Instances data = {{0,
                           {{0, Resource::single(std::string("ACME"))},
                            {7, Resource{true, {{0, int64_t{3800}}, {1, int64_t{-70000}}}}},
                            {13, Resource::single(int64_t{INT64_MIN})},
                            {16, Resource::single(std::string("UQ"))}}}};
  for (const char* target : {"/3", "/3/0", "/3/0/7", "/3/0/13"}) {
    const Path p = *Path::parse(target);
    Result<Bytes> b = content::encode(def(3), p, data, format::kSenmlCbor);
    ASSERT_TRUE(b.ok()) << b.error().message;
    Result<Instances> back =
        content::decode_write(def(3), p, format::kSenmlCbor, b->data(), b->size());
    ASSERT_TRUE(back.ok()) << target << ": " << back.error().message;
    if (p.depth() < 3) {
      EXPECT_EQ(*back, data) << target;
    } else {
      EXPECT_EQ(back->at(0).at(*p.res), data.at(0).at(*p.res)) << target;
      EXPECT_EQ(back->at(0).size(), 1u);
    }
  }
  Result<Bytes> resource =
      content::encode(def(3), *Path::parse("/3/0/13"), data, format::kSenmlCbor);
  ASSERT_TRUE(resource.ok());
  EXPECT_EQ(show(*resource), show(hex("81 a3 21 " + tstr("/3/0/") + "00 " + tstr("13") +
                                      "02 3b 7f ff ff ff ff ff ff ff")));
}

TEST(SenmlCborContent, Float_KeepsNaNAndInfinity) {
  ObjectDef d{40000, "Test", true, {{0, "F", ResourceType::Float, true, false, Ops::RW}}};
  const Instances data = {{0, {{0, Resource{true, {{0, HUGE_VAL}, {1, std::nan("")}, {2, 0.1}}}}}}};
  Result<Bytes> b = content::encode(d, *Path::parse("/40000/0"), data, format::kSenmlCbor);
  ASSERT_TRUE(b.ok()) << b.error().message;
  Result<Instances> back =
      content::decode_write(d, *Path::parse("/40000/0"), format::kSenmlCbor, b->data(), b->size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  const auto& values = back->at(0).at(0).values;
  EXPECT_EQ(std::get<double>(values.at(0)), HUGE_VAL);
  EXPECT_TRUE(std::isnan(std::get<double>(values.at(1))));
  EXPECT_EQ(std::get<double>(values.at(2)), 0.1);
  Result<Bytes> json = content::encode(d, *Path::parse("/40000/0"), data, format::kSenmlJson);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.error().message,
            "/40000/0: SenML-JSON record 0: SenML-JSON has no form for the Float inf");
}

}  // namespace
}  // namespace hil::lwm2m
