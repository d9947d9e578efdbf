// Hand-built CoAP and DTLS datagrams for the radio's tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hil::radio::test {

using Bytes = std::vector<uint8_t>;

// Appends one option, using the extended delta and length forms as needed.
inline void add_option(Bytes& out, uint32_t delta, const std::string& value) {
  const auto nibble = [](uint32_t v) { return v < 13 ? v : v < 269 ? 13u : 14u; };
  const auto extend = [&out](uint32_t v) {
    if (v >= 269) {
      out.push_back((v - 269) >> 8);
      out.push_back((v - 269) & 0xFF);
    } else if (v >= 13) {
      out.push_back(v - 13);
    }
  };
  out.push_back(static_cast<uint8_t>(nibble(delta) << 4 | nibble(value.size())));
  extend(delta);
  extend(value.size());
  out.insert(out.end(), value.begin(), value.end());
}

// type 0 CON .. 3 RST; code class * 32 + detail; path segments as Uri-Path.
inline Bytes coap(uint8_t type, uint8_t code, uint16_t mid, const Bytes& token,
                  const std::vector<std::string>& path = {}, const std::string& payload = "") {
  Bytes out;
  // Room for it all up front: growing a 4-byte vector by insert() sets off
  // a false -Warray-bounds in GCC 12's inlined memmove.
  out.reserve(64 + payload.size());
  for (uint8_t b : {static_cast<uint8_t>(0x40 | type << 4 | token.size()), code,
                    static_cast<uint8_t>(mid >> 8), static_cast<uint8_t>(mid & 0xFF)})
    out.push_back(b);
  out.insert(out.end(), token.begin(), token.end());
  uint32_t last = 0;
  for (const std::string& segment : path) {
    add_option(out, 11 - last, segment);
    last = 11;
  }
  if (!payload.empty()) {
    out.push_back(0xFF);
    out.insert(out.end(), payload.begin(), payload.end());
  }
  return out;
}

constexpr uint8_t kCon = 0, kNon = 1, kAck = 2, kRst = 3;
constexpr uint8_t kGet = 1, kPost = 2, kPut = 3, kDelete = 4;
constexpr uint8_t kChanged = 2 * 32 + 4, kCreated = 2 * 32 + 1;

// A DTLS 1.2 record: content type, version FEFD, epoch 0, sequence, body.
inline Bytes dtls_record(uint8_t content_type, size_t body_len) {
  Bytes out{content_type,
            0xFE,
            0xFD,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            static_cast<uint8_t>(body_len >> 8),
            static_cast<uint8_t>(body_len & 0xFF)};
  out.resize(out.size() + body_len, 0x5A);
  return out;
}

}  // namespace hil::radio::test
