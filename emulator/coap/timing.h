// RFC 7252 transmission parameters and how a libcoap session takes them.
// libcoap's core API alone: the firmware image builds this too.
#pragma once

#include <coap3/coap.h>

#include <cstdint>

namespace hil::coap {

// RFC 7252 transmission parameters, per session.
struct Timing {
  int64_t ack_timeout_ms = 2000;
  double ack_random_factor = 1.5;
  int max_retransmit = 4;

  // MAX_TRANSMIT_SPAN: the last retransmission of a CON goes out this long
  // after the first transmission.
  int64_t max_transmit_span_ms() const;
  // MAX_TRANSMIT_WAIT: by then a CON has been answered or given up on.
  int64_t max_transmit_wait_ms() const;
};

// Applies `timing` to a session, client or server side.
void apply_timing(coap_session_t* s, const Timing& timing);

}  // namespace hil::coap
