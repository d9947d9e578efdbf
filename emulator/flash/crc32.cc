#include "emulator/flash/crc32.h"

namespace hil::flash {

// Bitwise rather than a 1 KiB table: firmware flash is dearer than the few
// cycles per byte, and records are small.
uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace hil::flash
