// The bootstrap server on libcoap: BootstrapServerCore behind a UDP
// endpoint and, for endpoints configured with a pre-shared key, a DTLS one.
// Lives on one loop thread.
#pragma once

#include <string>

#include "emulator/base/timers.h"
#include "emulator/coap/steered_listener.h"
#include "emulator/server/bootstrap_server_core.h"
#include "emulator/server/client_security.h"
#include "emulator/server/heap_trim.h"
#include "emulator/server/peer_table.h"

namespace hil::server {

class BootstrapServer final : public coap::Context::Handler {
 public:
  BootstrapServer(BootstrapConfig config, std::optional<lwm2m::Profile> profile,
                  coap::Timing timing, Timers& timers, uint64_t seed, int contexts,
                  BootstrapLimits limits = {});

  // Certificate mode: endpoints whose entry says "x509" authenticate with
  // a certificate in their name that chains to `own.trust`. Before listen().
  void set_certificate(coap::Certificate own) { security_.set_certificate(std::move(own)); }
  // coap:// on `addr`; coaps:// on `secure` (port 0: a free one). Errors:
  // kIo.
  Status listen(const coap_address_t& addr, const coap_address_t& secure, unsigned max_handshakes);
  std::string uri() const;         // coap://127.0.0.1:PORT once listening
  std::string secure_uri() const;  // coaps://127.0.0.1:PORT
  const coap::SteeredListener& listener() const { return listener_; }
  coap::SteeredListener& listener() { return listener_; }
  BootstrapServerCore& core() { return core_; }
  // A corrected configuration (keys included) for sessions from now on.
  void reconfigure(BootstrapConfig config);
  // Server-initiated bootstrap (1.0) of `endpoint`, over its last session
  // with this server, which must still be open (the device's bootstrap
  // session lingers after it left bootstrap); an error says why not.
  Status start_session(const std::string& endpoint);

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) override;
  void on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) override;
  void on_session_closed(coap_session_t* s) override { peers_.forget(s); }
  void on_session_event(coap_session_t* s, coap::SessionEvent e) override;

 private:
  void pump();
  // Sweeps results past limits().result_ttl_ms, once a second at most.
  void arm_expiry();
  void expire();

  Timers& timers_;
  BootstrapServerCore core_;
  coap::Timing timing_;
  PeerTable peers_;
  ClientSecurity security_;
  coap::SteeredListener listener_;
  HeapTrim trim_{timers_};  // after sessions ended and expiries: a fleet's or a flood's end
  DeadlineTimer expiry_{timers_, [this] { expire(); }};
};

}  // namespace hil::server
