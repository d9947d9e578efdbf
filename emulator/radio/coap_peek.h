// Classify a datagram without trusting it: the radio matches rules on what it
// carries, but it carries anything a peer (or a corruption) produces, so every
// read is bounds-checked and a malformed datagram is simply "not CoAP".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hil::radio {

struct CoapPeek {
  uint8_t type = 0;  // 0 CON, 1 NON, 2 ACK, 3 RST
  uint8_t code = 0;  // class * 32 + detail; 1..31 are requests
  uint16_t mid = 0;
  std::vector<uint8_t> token;
  std::string path;  // Uri-Path options joined as "/a/b"; empty when none
};

inline bool is_request(uint8_t code) { return code >= 1 && code <= 31; }

// CoAP over UDP (RFC 7252): version 1, token length <= 8, options well formed.
std::optional<CoapPeek> peek_coap(const uint8_t* data, size_t len);

// The content type of the first DTLS 1.0/1.2 record (20 change_cipher_spec,
// 21 alert, 22 handshake, 23 application_data, 24 heartbeat, 25 tls12_cid)
// when the record header is consistent with the datagram.
std::optional<uint8_t> peek_dtls_content_type(const uint8_t* data, size_t len);

}  // namespace hil::radio
