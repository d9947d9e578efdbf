#include "emulator/coap/x509.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <memory>

namespace hil::coap {
namespace {

// Entropy from a seed alone (splitmix64), so a seed mints the same key:
// these are test credentials, and a virtual-time run must repeat.
int seeded_entropy(void* state, unsigned char* out, size_t len) {
  auto* s = static_cast<uint64_t*>(state);
  for (size_t i = 0; i < len; i += 8) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (size_t b = 0; b < 8 && i + b < len; ++b)
      out[i + b] = static_cast<unsigned char>(z >> (8 * b));
  }
  return 0;
}

// The mbedTLS objects one issue() needs, freed together.
struct Minting {
  uint64_t entropy_state;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_pk_context ca_key, key;
  mbedtls_x509write_cert crt;
  mbedtls_mpi serial;

  explicit Minting(uint64_t seed) : entropy_state(seed) {
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_pk_init(&ca_key);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
  }
  ~Minting() {
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_pk_free(&ca_key);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
  }
  Minting(const Minting&) = delete;
  Minting& operator=(const Minting&) = delete;
};

Error mbedtls_error(const std::string& what, int ret) {
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof(buf));
  return Error{ErrorCode::kInvalidArgument, what + ": " + buf};
}

// mbedTLS writes DER at the end of the buffer; `n` bytes of it.
Der tail(const std::vector<unsigned char>& buf, int n) { return Der(buf.end() - n, buf.end()); }

// mbedTLS's name syntax needs a ',' inside a value escaped.
std::string subject_of(const std::string& cn) {
  std::string out = "CN=";
  for (char c : cn) {
    if (c == ',') out += '\\';
    out += c;
  }
  return out;
}

int parse_key(mbedtls_pk_context* pk, const Der& der) {
  return mbedtls_pk_parse_key(pk, der.data(), der.size(), nullptr, 0);
}

Status sign(Minting& m, const Issuer& issuer, const std::string& cn) {
  char issuer_name[512];
  if (mbedtls_x509_dn_gets(issuer_name, sizeof(issuer_name), &m.ca.subject) < 0)
    return Error{ErrorCode::kInvalidArgument,
                 "issuer: the CA certificate's subject name is too long"};
  mbedtls_x509write_crt_set_version(&m.crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&m.crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&m.crt, &m.key);
  mbedtls_x509write_crt_set_issuer_key(&m.crt, &m.ca_key);
  if (int r = mbedtls_x509write_crt_set_subject_name(&m.crt, subject_of(cn).c_str()); r != 0)
    return mbedtls_error("certificate name \"" + cn + "\"", r);
  if (int r = mbedtls_x509write_crt_set_issuer_name(&m.crt, issuer_name); r != 0)
    return mbedtls_error("issuer name", r);
  if (int r = mbedtls_x509write_crt_set_validity(&m.crt, issuer.not_before.c_str(),
                                                 issuer.not_after.c_str());
      r != 0) {
    return mbedtls_error("validity " + issuer.not_before + ".." + issuer.not_after, r);
  }
  unsigned char serial[16];
  mbedtls_ctr_drbg_random(&m.drbg, serial, sizeof(serial));
  serial[0] &= 0x7f;  // a positive serial number
  mbedtls_mpi_read_binary(&m.serial, serial, sizeof(serial));
  mbedtls_x509write_crt_set_serial(&m.crt, &m.serial);
  mbedtls_x509write_crt_set_basic_constraints(&m.crt, 0, -1);
  return ok_status();
}

}  // namespace

Result<Certificate> issue(const Issuer& issuer, const std::string& cn, uint64_t seed) {
  auto m = std::make_unique<Minting>(seed);
  if (int r = mbedtls_ctr_drbg_seed(&m->drbg, seeded_entropy, &m->entropy_state, nullptr, 0);
      r != 0) {
    return mbedtls_error("random generator", r);
  }
  if (int r = mbedtls_x509_crt_parse_der(&m->ca, issuer.ca_cert.data(), issuer.ca_cert.size());
      r != 0) {
    return mbedtls_error("issuer: CA certificate (DER)", r);
  }
  if (int r = parse_key(&m->ca_key, issuer.ca_key); r != 0)
    return mbedtls_error("issuer: CA key (DER)", r);
  if (mbedtls_pk_setup(&m->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(m->key), mbedtls_ctr_drbg_random,
                          &m->drbg) != 0) {
    return Error{ErrorCode::kInternal, "cannot make a P-256 key"};
  }
  if (Status st = sign(*m, issuer, cn); !st) return st.error();
  std::vector<unsigned char> buf(4096);
  int n =
      mbedtls_x509write_crt_der(&m->crt, buf.data(), buf.size(), mbedtls_ctr_drbg_random, &m->drbg);
  if (n < 0) return mbedtls_error("signing the certificate", n);
  Certificate out;
  out.cert = tail(buf, n);
  n = mbedtls_pk_write_key_der(&m->key, buf.data(), buf.size());
  if (n < 0) return mbedtls_error("writing the key", n);
  out.key = tail(buf, n);
  return out;
}

Status check(const Certificate& c, const std::string& what) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int r = mbedtls_x509_crt_parse_der(&crt, c.cert.data(), c.cert.size());
  mbedtls_x509_crt_free(&crt);
  if (r != 0) return mbedtls_error(what + ": certificate (DER)", r);
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  r = parse_key(&pk, c.key);
  mbedtls_pk_free(&pk);
  if (r != 0) return mbedtls_error(what + ": private key (DER)", r);
  mbedtls_x509_crt_init(&crt);
  r = mbedtls_x509_crt_parse_der(&crt, c.trust.data(), c.trust.size());
  mbedtls_x509_crt_free(&crt);
  if (r != 0) return mbedtls_error(what + ": trusted certificate (DER)", r);
  return ok_status();
}

CertProblem classify(const uint8_t* der, size_t len) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  CertProblem p = CertProblem::Untrusted;
  if (mbedtls_x509_crt_parse_der(&crt, der, len) == 0 &&
      (mbedtls_x509_time_is_past(&crt.valid_to) || mbedtls_x509_time_is_future(&crt.valid_from))) {
    p = CertProblem::Expired;
  }
  mbedtls_x509_crt_free(&crt);
  return p;
}

const char* to_string(CertProblem p) {
  return p == CertProblem::Expired ? "CERT_EXPIRED" : "CERT_UNTRUSTED";
}

}  // namespace hil::coap
