// Any input either parses to an object with unique resource ids, or fails
// with an error that names the file and a line.
#include <cstdlib>
#include <set>

#include "emulator/lwm2m/objects/ddf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto def = hil::lwm2m::ddf::parse(reinterpret_cast<const char*>(data), size, "fuzz.xml");
  if (!def) {
    if (def.error().message.rfind("fuzz.xml:", 0) != 0) std::abort();
    return 0;
  }
  std::set<uint16_t> ids;
  for (const auto& r : def->resources)
    if (!ids.insert(r.id).second || r.id > 65534) std::abort();
  return 0;
}
