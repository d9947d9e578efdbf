// Any accepted link list must survive encode_links and parse back unchanged.
#include <cstdlib>
#include <string_view>

#include "emulator/lwm2m/codec/link_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hil::lwm2m;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hil::Result<std::vector<Link>> links = parse_links(text);
  if (!links) return 0;
  hil::Result<std::vector<Link>> back = parse_links(encode_links(*links));
  if (!back || *back != *links) std::abort();
  return 0;
}
