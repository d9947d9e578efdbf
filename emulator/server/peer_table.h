// Server-side sessions as the protocol cores know them: opaque peer ids.
// libcoap frees idle server sessions on its own, so the table forgets a
// session when told and a later request from that client gets a new id.
#pragma once

#include <coap3/coap.h>

#include <unordered_map>

#include "emulator/coap/context.h"
#include "emulator/server/peer.h"

namespace hil::server {

class PeerTable {
 public:
  explicit PeerTable(coap::Timing timing) : timing_(timing) {}

  PeerId id_of(coap_session_t* s);
  coap_session_t* session_of(PeerId p) const;
  void forget(coap_session_t* s);

 private:
  coap::Timing timing_;  // applied to each new client's session
  std::unordered_map<coap_session_t*, PeerId> ids_;
  std::unordered_map<PeerId, coap_session_t*> sessions_;
  PeerId next_ = 1;
};

}  // namespace hil::server
