// Any accepted SenML-JSON pack must encode, and the encoding must decode
// to the same records and encode to the same bytes. Bytes, not records, are
// compared at the end so that NaN counts as equal to itself.
#include <cstdlib>

#include "emulator/lwm2m/codec/senml_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hil::lwm2m;
  hil::Result<std::vector<senml::Record>> records = senml_json::decode(data, size);
  if (!records) return 0;
  hil::Result<Bytes> encoded = senml_json::encode(*records);
  if (!encoded) std::abort();
  hil::Result<std::vector<senml::Record>> back =
      senml_json::decode(encoded->data(), encoded->size());
  if (!back || back->size() != records->size()) std::abort();
  for (size_t i = 0; i < back->size(); ++i) {
    if ((*back)[i].name != (*records)[i].name || (*back)[i].field != (*records)[i].field) {
      std::abort();
    }
  }
  hil::Result<Bytes> again = senml_json::encode(*back);
  if (!again || *again != *encoded) std::abort();
  return 0;
}
