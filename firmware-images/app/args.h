// The image's configuration, from QEMU's -append: space-separated key=value
// pairs (README.md, "-append arguments", lists them all).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "emulator/flash/nor_flash.h"
#include "emulator/lwm2m/client/boot_words.h"

namespace fw {

// The client's words (emulator/lwm2m/client/boot_words.h), and the
// image's own: its network, its flash file, a power cut and its logging.
struct Args : hil::lwm2m::BootConfig {
  // Network: the device's address; the gateway is the emulator's side.
  uint32_t ip = 0, gateway = 0, netmask = 0;  // network byte order

  // Flash: the image file (semihosting, relative to QEMU's working
  // directory); empty keeps the flash in RAM only.
  std::string flash_path;
  hil::flash::Geometry geometry{8 * 1024, 4 * 1024, 256};
  uint64_t flash_seed = 1;
  hil::flash::ViolationPolicy on_violation = hil::flash::ViolationPolicy::kAnd;
  uint32_t endurance = 100000;
  // Power cut at flash operation N since this boot (program or erase,
  // numbered from 0), at byte K of it or before it.
  std::optional<uint64_t> cut_op;
  std::optional<uint32_t> cut_byte;

  uint64_t seed = 1;         // LWIP_RAND, CoAP tokens, retry jitter
  int64_t stats_ms = 60000;  // a "stats" event this often (and when registered); 0: only then
  int coap_log = 3;          // libcoap log level shown (LOG_ERR)
};

// Parses the semihosting command line (the kernel name, then -append's
// text). On error, *error names the key and what it wants.
std::optional<Args> parse_args(const char* cmdline, std::string* error);

}  // namespace fw
