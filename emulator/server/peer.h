// How the servers name a client: an opaque id the transport assigns, one
// per client address or session.
#pragma once

#include <cstdint>

namespace hil::server {

using PeerId = uint64_t;

}  // namespace hil::server
