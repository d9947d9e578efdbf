// Any datagram a peer may send: libcoap parses it, then our conversion to a
// Request or Response (options, paths, queries, content formats) must cope.
#include <coap3/coap.h>

#include <cstddef>
#include <cstdint>

#include "emulator/coap/context.h"
#include "emulator/coap/pdu.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hil::coap::init_library();
  coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, size < 1152 ? 1152 : size);
  if (pdu == nullptr) return 0;
  if (coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu)) {
    auto code = coap_pdu_get_code(pdu);
    if (code >= 1 && code <= 31) {
      auto r = hil::coap::to_request(pdu);
      (void)hil::lwm2m::to_string(r);
    } else {
      (void)hil::coap::to_response(pdu);
    }
  }
  coap_delete_pdu(pdu);
  return 0;
}
