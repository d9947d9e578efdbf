// Any datagram a peer or a corruption produces: the peeks must stay inside it,
// and whatever CoAP they accept must be consistent with the bytes.
#include <cstdlib>

#include "emulator/radio/coap_peek.h"
#include "emulator/radio/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hil::radio;
  const std::optional<CoapPeek> peek = peek_coap(data, size);
  if (peek && (peek->token.size() > 8 || peek->path.size() > size)) std::abort();
  const std::optional<uint8_t> dtls = peek_dtls_content_type(data, size);
  if (peek && dtls) std::abort();  // the first byte tells CoAP (01xxxxxx) from DTLS (20..25)
  RuleSet rules;
  (void)rules.classify(Direction::Uplink, data, size);
  return 0;
}
