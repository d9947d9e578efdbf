// Between libcoap PDUs and the core's Request / Response.
#pragma once

#include <coap3/coap.h>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"

namespace hil::coap {

lwm2m::Request to_request(const coap_pdu_t* pdu);
lwm2m::Response to_response(const coap_pdu_t* pdu);
// Adds options and payload to a PDU whose code and token are set.
bool fill(coap_pdu_t* pdu, const lwm2m::Request& r);
bool fill(coap_pdu_t* pdu, const lwm2m::Response& r);

// The next 8-byte token from a seeded generator (splitmix64): tokens repeat
// with the seed.
uint64_t next_token(uint64_t& state);
// A token as the key its request is kept under.
uint64_t token_key(coap_bin_const_t token);
// Why libcoap gave up on a CON, for people ("timeout: no answer after
// retransmissions").
const char* nack_reason(coap_nack_reason_t reason);
// The give-up as an error code: kTimeout after the retransmissions,
// kUnavailable for a reset, an ICMP error or a DTLS failure.
ErrorCode nack_code(coap_nack_reason_t reason);

}  // namespace hil::coap
