#include "emulator/coap/timing.h"

#include <cmath>

namespace hil::coap {

int64_t Timing::max_transmit_span_ms() const {
  return static_cast<int64_t>(ack_timeout_ms * (std::pow(2.0, max_retransmit) - 1) *
                              ack_random_factor);
}

int64_t Timing::max_transmit_wait_ms() const {
  return static_cast<int64_t>(ack_timeout_ms * (std::pow(2.0, max_retransmit + 1) - 1) *
                              ack_random_factor);
}

void apply_timing(coap_session_t* s, const Timing& t) {
  auto ms = static_cast<uint16_t>(t.ack_timeout_ms);
  coap_session_set_ack_timeout(
      s, coap_fixed_point_t{static_cast<uint16_t>(ms / 1000), static_cast<uint16_t>(ms % 1000)});
  double whole = std::floor(t.ack_random_factor);
  coap_session_set_ack_random_factor(
      s, coap_fixed_point_t{static_cast<uint16_t>(whole),
                            static_cast<uint16_t>((t.ack_random_factor - whole) * 1000)});
  coap_session_set_max_retransmit(s, static_cast<uint16_t>(t.max_retransmit));
}

}  // namespace hil::coap
