#include "emulator/server/client_security.h"

#include "emulator/coap/address.h"

namespace hil::server {
namespace {

std::string peer_of(coap_session_t* s) { return coap::to_string(*coap_session_get_addr_remote(s)); }

bool is_dtls(coap_session_t* s) { return coap_session_get_proto(s) == COAP_PROTO_DTLS; }

}  // namespace

Status ClientSecurity::listen(coap::ShardedEndpoint& ep, const coap_address_t& addr,
                              unsigned max_handshakes, const coap::Timing& timing) {
  for (const auto& ctx : ep.contexts()) {
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
  }
  return ep.listen(addr, /*dtls=*/true);
}

std::optional<std::string> ClientSecurity::refusal(coap_session_t* s, const std::string& endpoint,
                                                   const PskTable& rules) const {
  const std::string& identity = coap::Context::owner(s).psk_identity(s);
  return rules.refusal(is_dtls(s), identity, endpoint);
}

void ClientSecurity::on_event(coap_session_t* s, coap::SessionEvent e) {
  if (e == coap::SessionEvent::DtlsConnected) return;
  if (coap_session_get_state(s) != COAP_SESSION_STATE_HANDSHAKE) return;  // a normal close
  const std::string& identity = coap::Context::owner(s).psk_identity(s);
  if (!table_.key_for(identity)) return;  // refused when it was presented
  on_refused_(table_.endpoint_of(identity), "DTLS handshake with PSK identity \"" + identity +
                                                "\" from " + peer_of(s) + " failed (wrong key?)");
}

}  // namespace hil::server
