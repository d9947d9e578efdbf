#include "emulator/server/client_security.h"

#include "emulator/coap/address.h"

namespace hil::server {
namespace {

std::string peer_of(coap_session_t* s) { return coap::to_string(*coap_session_get_addr_remote(s)); }

bool is_dtls(coap_session_t* s) { return coap_session_get_proto(s) == COAP_PROTO_DTLS; }

const coap::PeerCertificate* certificate_of(coap_session_t* s) {
  return s != nullptr && is_dtls(s) ? coap::Context::owner(s).peer_certificate(s) : nullptr;
}

Outcome outcome_of(coap::CertProblem p) {
  return p == coap::CertProblem::Expired ? Outcome::CertExpired : Outcome::CertUntrusted;
}

}  // namespace

Status ClientSecurity::listen(coap::SteeredListener& listener, const coap_address_t& addr,
                              unsigned max_handshakes, const coap::Timing& timing) {
  for (const auto& ctx : listener.contexts()) {
    ctx->accept_psk(
        [this](coap_session_t* s, const std::string& identity) {
          std::optional<std::vector<uint8_t>> key = table_.key_for(identity);
          if (!key) {
            on_refused_(table_.endpoint_of(identity),
                        "DTLS: unknown PSK identity \"" + identity + "\" from " + peer_of(s));
          }
          return key;
        },
        max_handshakes, timing);
    if (certificate_) ctx->accept_certificates(*certificate_);
  }
  return listener.listen(addr, /*dtls=*/true);
}

std::optional<Refusal> ClientSecurity::refusal(coap_session_t* s, const std::string& endpoint,
                                               const PskTable& rules,
                                               Certificates certificates) const {
  if (const coap::PeerCertificate* cert = certificate_of(s)) {
    if (certificates == Certificates::Refused)
      return Refusal{"certificate, but " + endpoint + " may not use one here"};
    if (cert->name != endpoint) {
      return Refusal{"certificate of \"" + cert->name + "\" may not act as " + endpoint,
                     Outcome::CertNameMismatch};
    }
    return std::nullopt;
  }
  if (certificates == Certificates::Required) {
    return Refusal{(is_dtls(s) ? "DTLS with a pre-shared key" : std::string("NoSec")) + ", but " +
                   endpoint + " must use DTLS with a certificate"};
  }
  const std::string& identity = coap::Context::owner(s).psk_identity(s);
  if (std::optional<std::string> why = rules.refusal(is_dtls(s), identity, endpoint)) return *why;
  return std::nullopt;
}

std::string ClientSecurity::principal(coap_session_t* s) {
  if (const coap::PeerCertificate* cert = certificate_of(s)) return "x509:" + cert->name;
  return "psk:" + coap::Context::owner(s).psk_identity(s);
}

void ClientSecurity::on_event(coap_session_t* s, coap::SessionEvent e) {
  if (e == coap::SessionEvent::DtlsConnected) return;
  if (coap_session_get_state(s) != COAP_SESSION_STATE_HANDSHAKE) return;  // a normal close
  if (const coap::PeerCertificate* cert = certificate_of(s)) {
    // The certificate's name is the endpoint it claims to be.
    const std::string what =
        "DTLS handshake with the certificate of \"" + cert->name + "\" from " + peer_of(s);
    if (cert->problem) {
      on_refused_(cert->name, Refusal{what + " failed: " + coap::to_string(*cert->problem),
                                      outcome_of(*cert->problem)});
    } else {
      on_refused_(cert->name, Refusal{what + " failed after the certificate verified (did the "
                                             "client refuse the server's certificate?)"});
    }
    return;
  }
  const std::string& identity = coap::Context::owner(s).psk_identity(s);
  if (!table_.key_for(identity)) return;  // refused when it was presented
  on_refused_(table_.endpoint_of(identity), "DTLS handshake with PSK identity \"" + identity +
                                                "\" from " + peer_of(s) + " failed (wrong key?)");
}

}  // namespace hil::server
