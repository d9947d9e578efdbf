#include "emulator/radio/coap_peek.h"

namespace hil::radio {
namespace {

constexpr uint16_t kUriPath = 11;

// Reads the extended form of an option delta or length nibble (RFC 7252
// 3.1); 15 is reserved for the payload marker and is malformed here.
bool read_extended(uint32_t nibble, const uint8_t* data, size_t len, size_t& pos, uint32_t& value) {
  if (nibble < 13) {
    value = nibble;
  } else if (nibble == 13) {
    if (pos + 1 > len) return false;
    value = 13u + data[pos];
    pos += 1;
  } else if (nibble == 14) {
    if (pos + 2 > len) return false;
    value = 269u + ((uint32_t{data[pos]} << 8) | data[pos + 1]);
    pos += 2;
  } else {
    return false;
  }
  return true;
}

// Walks the options from pos; false when they run past the datagram.
bool read_options(const uint8_t* data, size_t len, size_t pos, std::string& path) {
  uint32_t number = 0;
  while (pos < len && data[pos] != 0xFF) {
    const uint8_t head = data[pos++];
    uint32_t delta = 0, length = 0;
    if (!read_extended(head >> 4, data, len, pos, delta)) return false;
    if (!read_extended(head & 0x0F, data, len, pos, length)) return false;
    if (length > len - pos) return false;
    number += delta;
    if (number == kUriPath) {
      path += '/';
      path.append(reinterpret_cast<const char*>(data + pos), length);
    }
    pos += length;
  }
  // A payload marker must be followed by a payload (RFC 7252 3).
  return pos == len || pos + 1 < len;
}

}  // namespace

std::optional<CoapPeek> peek_coap(const uint8_t* data, size_t len) {
  if (data == nullptr || len < 4 || (data[0] >> 6) != 1) return std::nullopt;
  const size_t token_length = data[0] & 0x0F;
  if (token_length > 8 || len < 4 + token_length) return std::nullopt;
  CoapPeek peek;
  peek.type = (data[0] >> 4) & 0x03;
  peek.code = data[1];
  peek.mid = static_cast<uint16_t>((data[2] << 8) | data[3]);
  peek.token.assign(data + 4, data + 4 + token_length);
  if (!read_options(data, len, 4 + token_length, peek.path)) return std::nullopt;
  return peek;
}

std::optional<uint8_t> peek_dtls_content_type(const uint8_t* data, size_t len) {
  constexpr size_t kHeader = 13;  // type, version, epoch, sequence, length
  if (data == nullptr || len < kHeader) return std::nullopt;
  const uint8_t type = data[0];
  if (type < 20 || type > 25) return std::nullopt;
  if (data[1] != 0xFE || (data[2] != 0xFD && data[2] != 0xFF)) return std::nullopt;
  const size_t length = (size_t{data[11]} << 8) | data[12];
  if (kHeader + length > len) return std::nullopt;
  return type;
}

}  // namespace hil::radio
