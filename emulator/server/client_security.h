// The DTLS side of a server on libcoap: the pre-shared keys it accepts,
// which identity each session presented, and the refusals a test asserts
// on (unknown identity, failed handshake, identity used for another
// endpoint, NoSec where a key is required).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "emulator/coap/sharded_endpoint.h"
#include "emulator/server/psk_table.h"

namespace hil::server {

class ClientSecurity {
 public:
  // `on_refused(endpoint, reason)`: endpoint is "" when the client never
  // named one and its identity does not name one either.
  using Refused = std::function<void(const std::string& endpoint, const std::string& reason)>;

  ClientSecurity(PskTable table, Refused on_refused)
      : table_(std::move(table)), on_refused_(std::move(on_refused)) {}

  const PskTable& table() const { return table_; }
  // Handshakes from now on use `table`.
  void set_table(PskTable table) { table_ = std::move(table); }
  // Accept DTLS-PSK on every context of `ep` and listen for it on `addr`.
  Status listen(coap::ShardedEndpoint& ep, const coap_address_t& addr, unsigned max_handshakes,
                const coap::Timing& timing);
  // Why the client of `s` may not act as `endpoint` under `rules`, or nullopt.
  std::optional<std::string> refusal(coap_session_t* s, const std::string& endpoint,
                                     const PskTable& rules) const;
  // A handshake that fails after its identity was accepted is refused here
  // (a wrong key shows only now); an unknown identity was refused at once.
  void on_event(coap_session_t* s, coap::SessionEvent e);

 private:
  PskTable table_;
  Refused on_refused_;
};

}  // namespace hil::server
