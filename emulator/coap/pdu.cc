#include "emulator/coap/pdu.h"

#include <cstring>

namespace hil::coap {
namespace {

std::string opt_string(const coap_opt_t* o) {
  return std::string(reinterpret_cast<const char*>(coap_opt_value(o)), coap_opt_length(o));
}

uint16_t opt_uint(const coap_opt_t* o) {
  return static_cast<uint16_t>(coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
}

// Observe is at most 3 bytes (RFC 7641, 2).
uint32_t opt_uint32(const coap_opt_t* o) {
  return coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) & 0xFFFFFF;
}

lwm2m::Bytes payload(const coap_pdu_t* pdu) {
  size_t len = 0;
  const uint8_t* data = nullptr;
  if (!coap_get_data(pdu, &len, &data)) return {};
  return lwm2m::Bytes(data, data + len);
}

// Options straight into the PDU, in ascending option number: libcoap's
// optlists would allocate one entry per option (in firmware, from a pool).
bool add_strings(coap_pdu_t* pdu, uint16_t number, const std::vector<std::string>& items) {
  for (const auto& s : items)
    if (!coap_add_option(pdu, number, s.size(), reinterpret_cast<const uint8_t*>(s.data())))
      return false;
  return true;
}

bool add_uint(coap_pdu_t* pdu, uint16_t number, uint32_t value) {
  uint8_t buf[4];
  return coap_add_option(pdu, number, coap_encode_var_safe(buf, sizeof(buf), value), buf) != 0;
}

bool add_body(coap_pdu_t* pdu, const lwm2m::Bytes& body) {
  return body.empty() || coap_add_data(pdu, body.size(), body.data());
}

}  // namespace

lwm2m::Request to_request(const coap_pdu_t* pdu) {
  lwm2m::Request r;
  r.method = static_cast<lwm2m::Method>(coap_pdu_get_code(pdu));
  coap_opt_iterator_t it;
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  while (coap_opt_t* o = coap_option_next(&it)) {
    switch (it.number) {
      case COAP_OPTION_URI_PATH:
        r.path.push_back(opt_string(o));
        break;
      case COAP_OPTION_URI_QUERY:
        r.query.push_back(opt_string(o));
        break;
      case COAP_OPTION_CONTENT_FORMAT:
        r.content_format = opt_uint(o);
        break;
      case COAP_OPTION_ACCEPT:
        r.accept = opt_uint(o);
        break;
      case COAP_OPTION_OBSERVE:
        r.observe = opt_uint32(o);
        break;
      default:
        break;
    }
  }
  r.payload = payload(pdu);
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  r.token.assign(token.s, token.s + token.length);
  return r;
}

lwm2m::Response to_response(const coap_pdu_t* pdu) {
  lwm2m::Response r;
  r.code = static_cast<lwm2m::Code>(coap_pdu_get_code(pdu));
  coap_opt_iterator_t it;
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  while (coap_opt_t* o = coap_option_next(&it)) {
    if (it.number == COAP_OPTION_LOCATION_PATH) r.location_path.push_back(opt_string(o));
    if (it.number == COAP_OPTION_CONTENT_FORMAT) r.content_format = opt_uint(o);
    if (it.number == COAP_OPTION_OBSERVE) r.observe = opt_uint32(o);
  }
  r.payload = payload(pdu);
  return r;
}

bool fill(coap_pdu_t* pdu, const lwm2m::Request& r) {
  return (!r.observe || add_uint(pdu, COAP_OPTION_OBSERVE, *r.observe)) &&  // 6
         add_strings(pdu, COAP_OPTION_URI_PATH, r.path) &&                  // 11
         (!r.content_format || add_uint(pdu, COAP_OPTION_CONTENT_FORMAT, *r.content_format)) &&
         add_strings(pdu, COAP_OPTION_URI_QUERY, r.query) &&             // 15
         (!r.accept || add_uint(pdu, COAP_OPTION_ACCEPT, *r.accept)) &&  // 17
         add_body(pdu, r.payload);
}

bool fill(coap_pdu_t* pdu, const lwm2m::Response& r) {
  coap_pdu_set_code(pdu, static_cast<coap_pdu_code_t>(r.code));
  return (!r.observe || add_uint(pdu, COAP_OPTION_OBSERVE, *r.observe)) &&  // 6
         add_strings(pdu, COAP_OPTION_LOCATION_PATH, r.location_path) &&    // 8
         (!r.content_format || add_uint(pdu, COAP_OPTION_CONTENT_FORMAT, *r.content_format)) &&
         add_body(pdu, r.payload);
}

uint64_t next_token(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t token_key(coap_bin_const_t t) {
  uint64_t k = 0;
  std::memcpy(&k, t.s, t.length < sizeof(k) ? t.length : sizeof(k));
  return k;
}

const char* nack_reason(coap_nack_reason_t r) {
  switch (r) {
    case COAP_NACK_TOO_MANY_RETRIES:
      return "timeout: no answer after retransmissions";
    case COAP_NACK_RST:
      return "reset by the peer";
    case COAP_NACK_ICMP_ISSUE:
      return "unreachable (ICMP)";
    case COAP_NACK_TLS_FAILED:
      return "DTLS failure";
    default:
      return "not deliverable";
  }
}

ErrorCode nack_code(coap_nack_reason_t r) {
  return r == COAP_NACK_TOO_MANY_RETRIES ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
}

}  // namespace hil::coap
