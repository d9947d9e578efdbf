// The image's configuration, from QEMU's -append: space-separated key=value
// pairs (README.md, "-append arguments", lists them all).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "emulator/flash/nor_flash.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/lwm2m/client/factory.h"

namespace fw {

struct Args {
  hil::lwm2m::ClientConfig client;
  // The bootstrap account (NoSec here), or a server account without
  // bootstrap, and the Device object.
  hil::lwm2m::Factory factory;

  // CoAP (RFC 7252 transmission parameters).
  uint32_t ack_timeout_ms = 2000;
  double ack_random_factor = 1.5;
  int max_retransmit = 4;

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
