// Any accepted TLV must re-encode to records that decode to the same records.
#include <cstdlib>

#include "emulator/lwm2m/codec/tlv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hil::lwm2m;
  hil::Result<std::vector<tlv::Record>> records = tlv::decode(data, size);
  if (!records) return 0;
  const Bytes again = tlv::encode(*records);
  hil::Result<std::vector<tlv::Record>> back = tlv::decode(again.data(), again.size());
  if (!back || *back != *records) std::abort();
  return 0;
}
