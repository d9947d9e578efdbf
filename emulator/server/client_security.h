// The DTLS side of a server on libcoap: the pre-shared keys and the
// certificates it accepts, which identity each session presented, and the
// refusals a test asserts on (unknown identity, failed handshake, identity
// used for another endpoint, NoSec where a key is required, a certificate
// that is untrusted, expired or names another endpoint).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "emulator/coap/steered_listener.h"
#include "emulator/server/bootstrap_server_core.h"
#include "emulator/server/psk_table.h"

namespace hil::server {

class ClientSecurity {
 public:
  // `on_refused(endpoint, refusal)`: endpoint is "" when the client never
  // named one and its identity does not name one either.
  using Refused = std::function<void(const std::string& endpoint, const Refusal& refusal)>;

  ClientSecurity(PskTable table, Refused on_refused)
      : table_(std::move(table)), on_refused_(std::move(on_refused)) {}

  const PskTable& table() const { return table_; }
  // Handshakes from now on use `table`.
  void set_table(PskTable table) { table_ = std::move(table); }
  // Clients may also authenticate with a certificate that chains to
  // `own.trust`, as the endpoint their certificate's Common Name names;
  // the server presents `own.cert`. Call before listen().
  void set_certificate(coap::Certificate own) { certificate_ = std::move(own); }
  bool has_certificate() const { return certificate_.has_value(); }
  // Accept DTLS (PSK, and certificates if set) on every context of `ep`
  // and listen for it on `addr`.
  Status listen(coap::SteeredListener& listener, const coap_address_t& addr,
                unsigned max_handshakes, const coap::Timing& timing);
  // Whether clients may, or must, authenticate with a certificate.
  enum class Certificates { Refused, Allowed, Required };
  // Why the client of `s` may not act as `endpoint`, or nullopt. A client
  // with a certificate may act only as the endpoint it names, and only
  // where `certificates` lets it; one without must meet `rules`.
  std::optional<Refusal> refusal(coap_session_t* s, const std::string& endpoint,
                                 const PskTable& rules, Certificates certificates) const;
  // "psk:IDENTITY" or "x509:NAME" for a DTLS session: who it authenticated as.
  static std::string principal(coap_session_t* s);
  // A handshake that fails after its identity was accepted is refused here
  // (a wrong key or a bad certificate shows only now); an unknown identity
  // was refused at once.
  void on_event(coap_session_t* s, coap::SessionEvent e);

 private:
  PskTable table_;
  std::optional<coap::Certificate> certificate_;
  Refused on_refused_;
};

}  // namespace hil::server
