#include "emulator/coap/x509.h"

#include <gtest/gtest.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include <string>

namespace hil::coap {
namespace {

Der from_hex(const std::string& hex) {
  Der out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// A P-256 CA made once with Python's cryptography (lwm2m_hil.certs.TestCA).
const Der kCaCert = from_hex(
    "308201423081e9a0030201020214412eab8dbaba660efc72a830755bdc871394f534300a06082a8648ce3d04030230"
    "173115301306035504030c0c756e69742074657374204341301e170d3139303130313030303030305a170d34393132"
    "33313233353935395a30173115301306035504030c0c756e697420746573742043413059301306072a8648ce3d0201"
    "06082a8648ce3d03010703420004a77d62e1c08e6562975a245e39ce5a4785fbdbca598f23964afc38c2424c0435a6"
    "6890e7eca170cbbefcf74770b93c4df20bc0bef2f8b1a8191982f946868109a3133011300f0603551d130101ff0405"
    "30030101ff300a06082a8648ce3d0403020348003045022100ecdabafa20c903f560574002863fed8ba450fc1704dd"
    "e9cd47bda07ef6ab507902200f36b4942c7a00ad6ffe2e05bd80ff7d457944a7c1a1ba7c86df1440479d8039");
const Der kCaKey = from_hex(
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b020101042032f24f714d8794fadf4cdc"
    "c9454fcacaeaee90d88b6c6b78e124e218d3189c0da14403420004a77d62e1c08e6562975a245e39ce5a4785fbdbca"
    "598f23964afc38c2424c0435a66890e7eca170cbbefcf74770b93c4df20bc0bef2f8b1a8191982f946868109");

// A parsed certificate, freed at the end of the test.
struct Parsed {
  mbedtls_x509_crt crt;
  explicit Parsed(const Der& der) {
    mbedtls_x509_crt_init(&crt);
    ok = mbedtls_x509_crt_parse_der(&crt, der.data(), der.size()) == 0;
  }
  ~Parsed() { mbedtls_x509_crt_free(&crt); }
  std::string common_name() {
    const mbedtls_asn1_named_data* cn = mbedtls_asn1_find_named_data(
        &crt.subject, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
    return cn ? std::string(reinterpret_cast<const char*>(cn->val.p), cn->val.len) : "";
  }
  bool ok = false;
};

Issuer test_issuer() { return Issuer{kCaCert, kCaKey}; }

TEST(X509Test, Issue_TestCa_CertificateNamesEndpointAndChainsToCa) {
  Result<Certificate> c = issue(test_issuer(), "dev-1", 7);
  ASSERT_TRUE(c) << c.error().message;
  Parsed leaf(c->cert), ca(kCaCert);
  ASSERT_TRUE(leaf.ok && ca.ok);
  EXPECT_EQ(leaf.common_name(), "dev-1");
  uint32_t flags = 0;
  EXPECT_EQ(mbedtls_x509_crt_verify(&leaf.crt, &ca.crt, nullptr, nullptr, &flags, nullptr, nullptr),
            0);
  EXPECT_EQ(flags, 0u);
  EXPECT_TRUE(check(Certificate{c->cert, c->key, kCaCert}, "x509"));
}

TEST(X509Test, Issue_SameSeed_SameBytes) {
  Result<Certificate> a = issue(test_issuer(), "dev-1", 7);
  Result<Certificate> b = issue(test_issuer(), "dev-1", 7);
  Result<Certificate> other = issue(test_issuer(), "dev-1", 8);
  ASSERT_TRUE(a && b && other);
  EXPECT_EQ(a->cert, b->cert);
  EXPECT_EQ(a->key, b->key);
  EXPECT_NE(a->key, other->key);
}

TEST(X509Test, Issue_CommaInName_Kept) {
  Result<Certificate> c = issue(test_issuer(), "site=3,dev=7", 1);
  ASSERT_TRUE(c) << c.error().message;
  Parsed parsed(c->cert);
  EXPECT_EQ(parsed.common_name(), "site=3,dev=7");
}

TEST(X509Test, Issue_BadCaKey_ErrorNamesIt) {
  Issuer bad = test_issuer();
  bad.ca_key = {0x30, 0x00};
  Result<Certificate> c = issue(bad, "dev-1", 1);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("CA key"), std::string::npos) << c.error().message;
}

TEST(X509Test, Issue_BadValidity_ErrorNamesIt) {
  Issuer bad = test_issuer();
  bad.not_after = "2049";
  Result<Certificate> c = issue(bad, "dev-1", 1);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("validity"), std::string::npos) << c.error().message;
}

TEST(X509Test, Classify_PastValidity_Expired) {
  Issuer old = test_issuer();
  old.not_before = "20000101000000";
  old.not_after = "20100101000000";
  Result<Certificate> c = issue(old, "dev-1", 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(classify(c->cert.data(), c->cert.size()), CertProblem::Expired);
  EXPECT_STREQ(to_string(CertProblem::Expired), "CERT_EXPIRED");
}

TEST(X509Test, Classify_FutureValidity_Expired) {
  Issuer later = test_issuer();
  later.not_before = "20990101000000";
  later.not_after = "21000101000000";
  Result<Certificate> c = issue(later, "dev-1", 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(classify(c->cert.data(), c->cert.size()), CertProblem::Expired);
}

TEST(X509Test, Classify_InValidity_Untrusted) {
  Result<Certificate> c = issue(test_issuer(), "dev-1", 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(classify(c->cert.data(), c->cert.size()), CertProblem::Untrusted);
  const uint8_t garbage[] = {1, 2, 3};
  EXPECT_EQ(classify(garbage, sizeof(garbage)), CertProblem::Untrusted);
}

TEST(X509Test, Check_GarbageKey_ErrorNamesWhat) {
  Result<Certificate> c = issue(test_issuer(), "dev-1", 1);
  ASSERT_TRUE(c);
  Status st = check(Certificate{c->cert, {1, 2, 3}, kCaCert}, "x509");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("x509: private key"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace hil::coap
