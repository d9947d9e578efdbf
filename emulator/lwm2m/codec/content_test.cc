#include "emulator/lwm2m/codec/content.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/codec/tlv.h"

namespace hil::lwm2m::content {
namespace {

using tlv::Record;
using tlv::Type;

const ObjectDef& def(uint16_t id) { return *ObjectRegistry::builtin().find(id); }

Path path(const char* text) { return *Path::parse(text); }

Record res(uint16_t id, Bytes v) { return {Type::Resource, id, std::move(v), {}}; }
Record multi(uint16_t id, std::vector<Record> c) {
  return {Type::MultipleResource, id, {}, std::move(c)};
}
Record ri(uint16_t id, Bytes v) { return {Type::ResourceInstance, id, std::move(v), {}}; }
Record inst(uint16_t id, std::vector<Record> c) {
  return {Type::ObjectInstance, id, {}, std::move(c)};
}
Bytes str(const std::string& s) { return Bytes(s.begin(), s.end()); }

Result<Instances> decode(uint16_t obj, const char* target, uint16_t fmt, const Bytes& b) {
  return decode_write(def(obj), path(target), fmt, b.data(), b.size());
}

Result<Instances> decode_tlv(uint16_t obj, const char* target, const std::vector<Record>& records) {
  return decode(obj, target, format::kTlv, tlv::encode(records));
}

// What a bootstrap server writes to /0: a server account and the BS account.
std::vector<Record> security_write() {
  return {inst(0, {res(0, str("coap://lwm2m.example:5683")), res(1, {0}), res(2, {3}), res(3, {}),
                   res(4, {}), res(5, {}), res(10, {101})}),
          inst(1, {res(0, str("coap://bs.example:5693")), res(1, {1}), res(2, {0}),
                   res(3, str("id")), res(5, {0xAA, 0xBB})})};
}

TEST(Content, DecodeWrite_SecurityObjectTlv_TypedInstances) {
  Result<Instances> r = decode_tlv(0, "/0", security_write());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  const Instance& a = r->at(0);
  EXPECT_EQ(a.at(0), Resource::single(std::string("coap://lwm2m.example:5683")));
  EXPECT_EQ(a.at(1), Resource::single(false));
  EXPECT_EQ(a.at(2), Resource::single(int64_t{3}));
  EXPECT_EQ(a.at(3), Resource::single(Bytes{}));
  EXPECT_EQ(a.at(10), Resource::single(int64_t{101}));
  EXPECT_EQ(r->at(1).at(5), Resource::single(Bytes{0xAA, 0xBB}));
  EXPECT_EQ(r->at(1).size(), 5u);
}

TEST(Content, DecodeWrite_InstanceTargetResourceRecords_ImplicitInstance) {
  Result<Instances> r =
      decode_tlv(1, "/1/4", {res(0, {101}), res(1, {0x01, 0x2C}), res(7, str("U"))});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->count(4), 1u);
  EXPECT_EQ(r->at(4).at(1), Resource::single(int64_t{300}));
  EXPECT_EQ(r->at(4).at(7), Resource::single(std::string("U")));
}

TEST(Content, DecodeWrite_InstanceTargetWrappedInstance_SameAsImplicit) {
  const std::vector<Record> resources = {res(0, {101}), res(6, {1})};
  Result<Instances> wrapped = decode_tlv(1, "/1/4", {inst(4, resources)});
  Result<Instances> implicit = decode_tlv(1, "/1/4", resources);
  ASSERT_TRUE(wrapped.ok()) << wrapped.error().message;
  ASSERT_TRUE(implicit.ok());
  EXPECT_EQ(*wrapped, *implicit);
}

TEST(Content, DecodeWrite_InstanceTargetOtherInstanceId_ReturnsError) {
  Result<Instances> r = decode_tlv(1, "/1/4", {inst(5, {res(0, {101})})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/1/4: a Write on an instance takes resource records or one "
            "Object Instance record with the same id");
  EXPECT_FALSE(decode_tlv(1, "/1/4", {inst(4, {}), inst(5, {})}).ok());
  EXPECT_FALSE(decode_tlv(1, "/1/4", {res(0, {1}), inst(4, {})}).ok());
}

TEST(Content, DecodeWrite_ResourceTargetSingle_OneResource) {
  Result<Instances> r = decode_tlv(1, "/1/0/1", {res(1, {0x0E, 0x10})});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (Instances{{0, {{1, Resource::single(int64_t{3600})}}}}));
}

TEST(Content, DecodeWrite_ResourceTargetMultiple_AllInstances) {
  Result<Instances> r = decode_tlv(2, "/2/0/2", {multi(2, {ri(101, {15}), ri(0, {1})})});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Resource& acl = r->at(0).at(2);
  EXPECT_TRUE(acl.multiple);
  EXPECT_EQ(acl.values, (FlatMap<uint16_t, Value>{{0, int64_t{1}}, {101, int64_t{15}}}));
}

TEST(Content, DecodeWrite_ResourceTargetRecordMismatch_ReturnsError) {
  Result<Instances> other = decode_tlv(1, "/1/0/1", {res(2, {1})});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "/1/0/1: the record's id 2 differs from the target resource");
  EXPECT_FALSE(decode_tlv(1, "/1/0/1", {res(1, {1}), res(1, {1})}).ok());
  EXPECT_FALSE(decode_tlv(1, "/1/0/1", {}).ok());
  EXPECT_FALSE(decode_tlv(1, "/1/0/1", {inst(0, {res(1, {1})})}).ok());
}

TEST(Content, DecodeWrite_UnknownResourceInInstance_Skipped) {
  Result<Instances> r = decode_tlv(3, "/3/0", {res(0, str("acme")), res(999, {1, 2, 3})});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at(0).size(), 1u);
  EXPECT_EQ(r->at(0).count(999), 0u);
}

TEST(Content, DecodeWrite_UnknownTargetResource_ReturnsError) {
  Result<Instances> r = decode_tlv(3, "/3/0/999", {res(999, {1})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/3/0/999: object 3 (Device) has no resource 999");
}

TEST(Content, DecodeWrite_ThreeByteInteger_ErrorNamesPath) {
  Result<Instances> r = decode_tlv(1, "/1/0", {res(1, {0, 1, 2})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/1/0/1: an Integer needs 1, 2, 4 or 8 bytes, got 3");
}

TEST(Content, DecodeWrite_BoolNotZeroOne_ErrorNamesPath) {
  Result<Instances> r = decode_tlv(0, "/0", {inst(2, {res(1, {2})})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/0/2/1: a Boolean must be 0 or 1, got 2");
}

TEST(Content, DecodeWrite_BadValueInMultipleResource_ErrorNamesInstance) {
  Result<Instances> r = decode_tlv(2, "/2/0", {multi(2, {ri(7, {1, 2, 3})})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("/2/0/2/7: ", 0), 0u) << r.error().message;
}

TEST(Content, DecodeWrite_SingleVersusMultipleMismatch_ReturnsError) {
  Result<Instances> single_as_multi = decode_tlv(1, "/1/0", {multi(1, {ri(0, {1})})});
  ASSERT_FALSE(single_as_multi.ok());
  EXPECT_EQ(single_as_multi.error().message,
            "/1/0/1: is a single resource but the payload has a Multiple "
            "Resource record");
  EXPECT_FALSE(decode_tlv(2, "/2/0", {res(2, {1})}).ok());
}

TEST(Content, DecodeWrite_ExecutableResource_ReturnsError) {
  Result<Instances> r = decode_tlv(1, "/1/0", {res(8, {})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/1/0/8: is executable and carries no value");
  EXPECT_FALSE(decode(3, "/3/0/4", format::kText, {}).ok());
}

TEST(Content, DecodeWrite_DuplicateIds_ReturnsError) {
  Result<Instances> dup_res = decode_tlv(1, "/1/0", {res(0, {1}), res(0, {2})});
  ASSERT_FALSE(dup_res.ok());
  EXPECT_EQ(dup_res.error().message, "/1/0/0: appears twice");
  EXPECT_FALSE(decode_tlv(1, "/1", {inst(0, {}), inst(0, {})}).ok());
  EXPECT_FALSE(decode_tlv(2, "/2/0/2", {multi(2, {ri(1, {1}), ri(1, {2})})}).ok());
}

TEST(Content, DecodeWrite_ResourceRecordsOnObjectTarget_ReturnsError) {
  Result<Instances> r = decode_tlv(1, "/1", {res(0, {101})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/1: a Write on an object needs Object Instance records, got "
            "Resource 0");
}

TEST(Content, DecodeWrite_ResourceInstanceInInstance_ReturnsError) {
  EXPECT_FALSE(decode_tlv(1, "/1/0", {ri(0, {1})}).ok());
}

TEST(Content, DecodeWrite_BadTargets_ReturnsError) {
  Result<Instances> other = decode_tlv(1, "/0/0", {});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "'/0/0' is not in object 1 (LwM2M Server)");
  EXPECT_FALSE(decode_tlv(1, "/", {}).ok());
  EXPECT_FALSE(decode_tlv(2, "/2/0/2/1", {ri(1, {1})}).ok());
}

TEST(Content, DecodeWrite_UnsupportedFormat_ErrorPrefix) {
  for (uint16_t f : {format::kLinkFormat, uint16_t{1234}}) {
    Result<Instances> r = decode(1, "/1/0", f, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported) << r.error().message;
  }
}

TEST(Content, DecodeWrite_EmptyTlv_NoInstancesOrEmptyInstance) {
  Result<Instances> object = decode(1, "/1", format::kTlv, {});
  ASSERT_TRUE(object.ok());
  EXPECT_TRUE(object->empty());
  Result<Instances> instance = decode(1, "/1/3", format::kTlv, {});
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(*instance, (Instances{{3, {}}}));
}

TEST(Content, DecodeWrite_TruncatedAtEveryByte_ReturnsError) {
  const Bytes full = tlv::encode({security_write()[0]});
  for (size_t n = 1; n < full.size(); ++n) {
    Result<Instances> r = decode_write(def(0), path("/0"), format::kTlv, full.data(), n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind("/0: TLV ", 0), 0u) << r.error().message;
  }
}

TEST(Content, DecodeWrite_TextResource_TypedValue) {
  Result<Instances> r = decode(1, "/1/0/1", format::kText, str("86400"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (Instances{{0, {{1, Resource::single(int64_t{86400})}}}}));
}

TEST(Content, DecodeWrite_BadText_ErrorNamesPath) {
  Result<Instances> r = decode(1, "/1/0/6", format::kText, str("yes"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/1/0/6: 'yes' is not a Boolean (0 or 1)");
}

TEST(Content, DecodeWrite_OpaqueSecretKey_Bytes) {
  Result<Instances> r = decode(0, "/0/1/5", format::kOpaque, {0, 1, 2});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at(1).at(5), Resource::single(Bytes{0, 1, 2}));
  EXPECT_FALSE(decode(0, "/0/1/0", format::kOpaque, {0}).ok());
}

TEST(Content, DecodeWrite_TextOrOpaqueNotOnSingleResource_ReturnsError) {
  Result<Instances> r = decode(1, "/1/0", format::kText, str("1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/1/0: plain text (0) carries one resource value; the target must "
            "be /obj/inst/res");
  EXPECT_FALSE(decode(3, "/3/0/6", format::kText, str("1")).ok());
  EXPECT_FALSE(decode(0, "/0", format::kOpaque, {1}).ok());
}

// The Device instance of the TLV test, from typed values.
Instance device() {
  return {{0, Resource::single(std::string("Open Mobile Alliance"))},
          {3, Resource::single(std::string("1.0"))},
          {6, Resource{true, {{0, int64_t{1}}, {1, int64_t{5}}}}},
          {7, Resource{true, {{0, int64_t{3800}}, {1, int64_t{5000}}}}},
          {9, Resource::single(int64_t{100})},
          {13, Resource::single(int64_t{1367491215})},
          {16, Resource::single(std::string("U"))}};
}

TEST(Content, Encode_DeviceInstance_SpecTlvBytes) {
  Result<Bytes> b = encode(def(3), path("/3/0"), {{0, device()}}, format::kTlv);
  ASSERT_TRUE(b.ok()) << b.error().message;
  Result<std::vector<Record>> records = tlv::decode(b->data(), b->size());
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 7u);
  EXPECT_EQ((*records)[3], multi(7, {ri(0, {0x0E, 0xD8}), ri(1, {0x13, 0x88})}));
  EXPECT_EQ((*records)[5], res(13, {0x51, 0x82, 0x42, 0x8F}));
}

TEST(Content, EncodeDecode_EachTarget_RoundTrip) {
  const Instances data = {{0, device()}};
  for (const char* target : {"/3", "/3/0", "/3/0/0", "/3/0/6", "/3/0/13"}) {
    Result<Bytes> b = encode(def(3), path(target), data, format::kTlv);
    ASSERT_TRUE(b.ok()) << target << ": " << b.error().message;
    Result<Instances> back = decode(3, target, format::kTlv, *b);
    ASSERT_TRUE(back.ok()) << target << ": " << back.error().message;
    if (path(target).depth() < 3) {
      EXPECT_EQ(*back, data) << target;
    } else {
      const uint16_t rid = *path(target).res;
      EXPECT_EQ(back->at(0).at(rid), device().at(rid)) << target;
    }
  }
}

TEST(Content, Encode_ObjectTarget_ObjectInstanceRecords) {
  Result<Instances> in = decode_tlv(0, "/0", security_write());
  ASSERT_TRUE(in.ok());
  Result<Bytes> b = encode(def(0), path("/0"), *in, format::kTlv);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*b, tlv::encode(security_write()));
}

TEST(Content, Encode_TextAndOpaque_SingleValue) {
  const Instances sec = {
      {1, {{0, Resource::single(std::string("coap://x"))}, {5, Resource::single(Bytes{7, 8})}}}};
  EXPECT_EQ(*encode(def(0), path("/0/1/0"), sec, format::kText), str("coap://x"));
  EXPECT_EQ(*encode(def(0), path("/0/1/5"), sec, format::kOpaque), (Bytes{7, 8}));
  EXPECT_FALSE(encode(def(0), path("/0/1/5"), sec, format::kText).ok());
  EXPECT_FALSE(encode(def(0), path("/0/1"), sec, format::kText).ok());
}

TEST(Content, Encode_WrongAlternative_ErrorNamesPath) {
  const Instances data = {{0, {{1, Resource::single(std::string("300"))}}}};
  Result<Bytes> b = encode(def(1), path("/1"), data, format::kTlv);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "/1/0/1: value \"300\" is not of type Integer");
  EXPECT_FALSE(encode(def(1), path("/1/0/1"), data, format::kText).ok());
}

TEST(Content, Encode_BadData_ReturnsError) {
  const Instances unknown = {{0, {{99, Resource::single(int64_t{1})}}}};
  Result<Bytes> u = encode(def(1), path("/1/0"), unknown, format::kTlv);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message, "/1/0/99: is not in the object definition");
  const Instances exec = {{0, {{8, Resource::single(int64_t{1})}}}};
  EXPECT_FALSE(encode(def(1), path("/1/0"), exec, format::kTlv).ok());
  const Instances single_at_1 = {{0, {{1, Resource{false, {{1, int64_t{1}}}}}}}};
  EXPECT_FALSE(encode(def(1), path("/1/0"), single_at_1, format::kTlv).ok());
  const Instances bad_multi = {{0, {{2, Resource{true, {{1, true}}}}}}};
  Result<Bytes> m = encode(def(2), path("/2/0"), bad_multi, format::kTlv);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(m.error().message.rfind("/2/0/2/1: ", 0), 0u);
}

TEST(Content, Encode_MissingTarget_ReturnsError) {
  const Instances data = {{0, {}}};
  Result<Bytes> i = encode(def(1), path("/1/1"), data, format::kTlv);
  ASSERT_FALSE(i.ok());
  EXPECT_EQ(i.error().message, "/1/1: no such instance in the data to encode");
  EXPECT_FALSE(encode(def(1), path("/1/0/1"), data, format::kTlv).ok());
  EXPECT_FALSE(encode(def(1), path("/1/0/1"), data, format::kText).ok());
}

TEST(Content, Encode_UnsupportedFormatOrTarget_ReturnsError) {
  Result<Bytes> f = encode(def(1), path("/1"), {}, format::kLinkFormat);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kUnsupported);
  EXPECT_FALSE(encode(def(1), path("/"), {}, format::kTlv).ok());
  EXPECT_FALSE(encode(def(1), path("/3"), {}, format::kTlv).ok());
}

TEST(Content, Encode_EmptyObject_EmptyPayload) {
  Result<Bytes> b = encode(def(1), path("/1"), {}, format::kTlv);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
}

TEST(Content, Encode_ValueOver24BitLength_ReturnsError) {
  const Instances big = {{0, {{3, Resource::single(Bytes(tlv::kMaxValueLength + 1, 0))}}}};
  Result<Bytes> b = encode(def(0), path("/0/0"), big, format::kTlv);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(b.error().message.find("at most 16 MiB - 1"), std::string::npos);
}

TEST(Content, FormatName_KnownAndUnknown_Readable) {
  EXPECT_EQ(format_name(format::kTlv), "TLV (11542)");
  EXPECT_EQ(format_name(7), "content format 7");
}

}  // namespace
}  // namespace hil::lwm2m::content
