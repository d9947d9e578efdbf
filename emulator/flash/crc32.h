// CRC-32 (IEEE 802.3, reflected, as zlib computes it): the store's checksum.
// Incremental so a record's header and payload can be checked without
// copying them into one buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hil::flash {

// crc32(crc32(0, a), b) == crc32(0, a followed by b).
uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len);

}  // namespace hil::flash
