// Answers a retransmitted CON request (same session, same message id) with
// the response the first copy got, without running the request again.
// libcoap 4.3.1 passes piggybacked duplicates to the handler, so a second
// Finish would otherwise run the bootstrap exit twice.
#pragma once

#include <coap3/coap.h>

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "emulator/lwm2m/model/message.h"

namespace hil::coap {

class DedupCache {
 public:
  const lwm2m::Response* find(coap_session_t* s, coap_mid_t mid) const;
  void remember(coap_session_t* s, coap_mid_t mid, const lwm2m::Response& r);
  void forget(coap_session_t* s);

 private:
  // A client has one request in flight per server (RFC 7252 NSTART = 1), so
  // the current and the previous exchange cover every retransmission.
  static constexpr size_t kSlots = 2;
  struct Entry {
    coap_mid_t mid = COAP_INVALID_MID;
    lwm2m::Response response;
  };
  struct Ring {
    std::array<Entry, kSlots> entries;
    size_t next = 0;
  };
  std::unordered_map<coap_session_t*, Ring> rings_;
};

}  // namespace hil::coap
