#include "emulator/coap/dedup.h"

namespace hil::coap {

const lwm2m::Response* DedupCache::find(coap_session_t* s, coap_mid_t mid) const {
  auto it = rings_.find(s);
  if (it == rings_.end()) return nullptr;
  for (const Entry& e : it->second.entries)
    if (e.mid == mid) return &e.response;
  return nullptr;
}

void DedupCache::remember(coap_session_t* s, coap_mid_t mid, const lwm2m::Response& r) {
  Ring& ring = rings_[s];
  ring.entries[ring.next] = Entry{mid, r};
  ring.next = (ring.next + 1) % kSlots;
}

void DedupCache::forget(coap_session_t* s) { rings_.erase(s); }

}  // namespace hil::coap
