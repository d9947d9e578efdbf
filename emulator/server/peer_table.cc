#include "emulator/server/peer_table.h"

namespace hil::server {

PeerId PeerTable::id_of(coap_session_t* s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) return it->second;
  coap::apply_timing(s, timing_);
  PeerId id = next_++;
  ids_.emplace(s, id);
  sessions_.emplace(id, s);
  return id;
}

coap_session_t* PeerTable::session_of(PeerId p) const {
  auto it = sessions_.find(p);
  return it == sessions_.end() ? nullptr : it->second;
}

void PeerTable::forget(coap_session_t* s) {
  auto it = ids_.find(s);
  if (it == ids_.end()) return;
  sessions_.erase(it->second);
  ids_.erase(it);
}

}  // namespace hil::server
