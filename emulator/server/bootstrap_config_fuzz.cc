// Any bytes as a bootstrap configuration: a clear error or a configuration,
// never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "emulator/server/bootstrap_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config =
      hil::server::parse_bootstrap_config(std::string(reinterpret_cast<const char*>(data), size));
  if (!config.ok() && config.error().message.empty()) __builtin_trap();
  return 0;
}
