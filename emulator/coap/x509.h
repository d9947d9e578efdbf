// Certificates for DTLS in certificate mode (LwM2M security mode 2, ETS
// 1.1-int-2): what a party presents and trusts, a test issuer that mints a
// P-256 key and certificate per device, and why a certificate was refused.
// All DER; mbedTLS does the work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/base/result.h"

namespace hil::coap {

using Der = std::vector<uint8_t>;

// One party's credentials: its certificate and private key (PKCS#8 or
// SEC1), and the certificate its peer's must chain to (a CA, or the peer's
// own certificate).
struct Certificate {
  Der cert;
  Der key;
  Der trust;
};

// A CA that signs device certificates. Validity is in mbedTLS's
// "YYYYMMDDhhmmss" (UTC); the defaults cover the virtual clock's epoch
// (2020-01-01) and the years around today.
struct Issuer {
  Der ca_cert;
  Der ca_key;
  std::string not_before = "20190101000000";
  std::string not_after = "20491231235959";
};

// A fresh P-256 key and a certificate with Common Name `cn` for it, signed
// by `issuer` with ECDSA-SHA256. The same `seed` gives the same key and
// certificate. `trust` is left empty.
Result<Certificate> issue(const Issuer& issuer, const std::string& cn, uint64_t seed);

// Checks that `c` parses (certificate, key, trust anchor), naming `what`
// in the error.
Status check(const Certificate& c, const std::string& what);

// Why a certificate did not verify.
enum class CertProblem {
  Untrusted,  // it does not chain to a trusted certificate
  Expired,    // it is outside its validity period (expired or not yet valid)
};
// Looked up from the certificate itself: a validity period that does not
// cover now is Expired, anything else Untrusted.
CertProblem classify(const uint8_t* der, size_t len);
const char* to_string(CertProblem p);  // "CERT_UNTRUSTED", "CERT_EXPIRED"

}  // namespace hil::coap
