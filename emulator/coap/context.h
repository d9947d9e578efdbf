// One libcoap context: the sessions of a device group, or one of a server listener's contexts.
// libcoap does the message layer (CON/ACK, retransmission, tokens); this
// class adds what 4.3.1 lacks for LwM2M: a catch-all request handler that
// answers a retransmitted request from a cache instead of running it again,
// and requests tagged with the caller's id so answers and give-ups find
// their way back. All calls on the thread that owns the context.
#pragma once

#include <coap3/coap.h>
#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "emulator/base/datagram_port.h"
#include "emulator/base/result.h"
#include "emulator/base/switchboard.h"
#include "emulator/coap/dedup.h"
#include "emulator/coap/timing.h"
#include "emulator/coap/x509.h"
#include "emulator/lwm2m/model/message.h"

namespace hil::coap {

// A pre-shared key (RFC 4279): what a DTLS client presents.
struct Psk {
  std::string identity;
  std::vector<uint8_t> key;
};

enum class SessionEvent {
  DtlsConnected,  // the handshake completed
  DtlsFailed,     // the handshake or the connection failed (alert, bad MAC, timeout)
  DtlsClosed,     // the peer closed the connection
};

// Server side: who a DTLS client authenticated as with a certificate.
struct PeerCertificate {
  std::string name;  // the Common Name (or first subjectAltName) of its certificate
  // Set: the certificate did not verify, and the handshake fails.
  std::optional<CertProblem> problem;
};

// Server side: the key for an identity a client presents; nullopt refuses it.
using PskLookup = std::function<std::optional<std::vector<uint8_t>>(coap_session_t*,
                                                                    const std::string& identity)>;

class Context {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // nullopt leaves the request unanswered, as a device that lost power
    // while handling it would (patch 0004).
    virtual std::optional<lwm2m::Response> on_request(coap_session_t* s,
                                                      const lwm2m::Request& r) = 0;
    virtual void on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) = 0;
    // No answer after the retransmissions (COAP_NACK_TOO_MANY_RETRIES), a
    // reset, or an ICMP error; nack_reason() words it for people.
    virtual void on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) = 0;
    // libcoap freed an idle server-side session; forget the pointer.
    virtual void on_session_closed(coap_session_t*) {}
    virtual void on_session_event(coap_session_t*, SessionEvent) {}
    // A notification sent with notify() was reset by the peer or never
    // acknowledged: the observation named by `token` is over (RFC 7641, 4.5).
    virtual void on_notify_failed(coap_session_t*, const lwm2m::Bytes& /*token*/,
                                  const std::string& /*reason*/) {}
  };

  // `seed` makes tokens reproducible.
  Context(Handler& handler, uint64_t seed);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Server side: listen on `addr` (port 0 picks a free one), for CoAP over
  // UDP or, with `dtls`, over DTLS (needs accept_psk() first). Errors: kIo.
  Status listen(const coap_address_t& addr, bool dtls = false);
  const coap_address_t& listen_address(bool dtls = false) const {
    return dtls ? dtls_addr_ : listen_addr_;
  }
  // Server side: datagrams a peer in this process hands over through the
  // switchboard instead of the listening socket; the context's answers to
  // any peer attached to `board` go back the same way (libcoap patch 0017).
  void answer_through(const Switchboard& board);
  void receive(bool dtls, const Ipv4SocketAddress& from, const uint8_t* data, size_t len);
  // Server side: DTLS clients authenticate with the keys `lookup` gives;
  // at most `max_handshakes` handshakes run at once per endpoint, and
  // handshake flights are retransmitted on `timing`.
  void accept_psk(PskLookup lookup, unsigned max_handshakes, const Timing& timing);
  // Server side: the identity the client of a DTLS session presented; "" if none.
  const std::string& psk_identity(coap_session_t* s) const;
  // Server side: DTLS clients may also authenticate with a certificate
  // that chains to `own.trust`; the server presents `own.cert`. Call after
  // accept_psk().
  void accept_certificates(Certificate own);
  // Server side: the certificate the client of `s` presented; null if none.
  const PeerCertificate* peer_certificate(coap_session_t* s) const;

  // Client side: a session from `local` to `remote`, released by release();
  // over DTLS with `psk` or with `cert`, its handshake retransmitted on
  // `timing`. With carry_through_ports(), `port` carries its datagrams
  // (DTLS records too) both ways instead of a socket, and the session owns
  // it until release().
  coap_session_t* connect(const coap_address_t& local, const coap_address_t& remote,
                          const Timing& timing, const Psk* psk = nullptr,
                          const Certificate* cert = nullptr,
                          std::unique_ptr<DatagramPort> port = nullptr);
  void release(coap_session_t* s);
  // Every client session of this context gets a DatagramPort at connect()
  // and holds no socket (libcoap patch 0013): a process may hold only so
  // many descriptors.
  void carry_through_ports();
  bool carries_through_ports() const { return carry_through_ports_; }

  // A CON request; its answer or failure comes back with `tag`. With
  // Observe=0 the token stays: every notification that carries an Observe
  // option comes back with `tag` too, until an answer without one, a
  // failure, cancel_observation() or forget_observation().
  bool send(coap_session_t* s, const lwm2m::Request& r, uint64_t tag);
  // Sends `r` (a GET with Observe=1) on the token of the observation sent
  // with `observation`; its answer comes back with `tag`, and notifications
  // that still arrive are acknowledged and dropped. False: no such
  // observation, or it could not be sent.
  bool cancel_observation(uint64_t observation, const lwm2m::Request& r, uint64_t tag);
  // Drops the observation sent with `tag`: its next notification gets a
  // reset, which ends it at the peer (RFC 7641, 3.6).
  void forget_observation(uint64_t tag);
  // A notification: a CON response on an observation's `token`. CON, so a
  // reset (the observer is gone) or silence reaches on_notify_failed().
  bool notify(coap_session_t* s, const lwm2m::Bytes& token, const lwm2m::Response& r);

  // The context a session belongs to.
  static Context& owner(coap_session_t* s);

  int fd() const;  // libcoap's epoll descriptor: readable when work is due
  void process();  // handle everything ready now, never block
  size_t sessions() const { return sessions_; }

  // Virtual time (virtual_time.h; one thread, libcoap's timer disarmed):
  // handles what is ready now if fd() is `readable`, and walks the sessions
  // (retransmissions, give-ups, idle sessions) when they are due, or, with
  // `refresh`, when anything changed since the last walk (a walk costs one
  // step per session: the loop refreshes once an instant is otherwise
  // quiet). `now`: ticks(), which a loop reads once per instant for all its
  // contexts. True if it did anything.
  bool process_virtual(bool readable, bool refresh, coap_tick_t now = ticks());
  // Virtual time: ms from `now` until the next retransmission or session
  // timeout libcoap reported at the last walk; -1: none.
  int64_t due_in_ms(coap_tick_t now = ticks()) const;
  // libcoap's clock (ms; on the virtual clock inside a VirtualTimeScope, its).
  static coap_tick_t ticks();

 private:
  // epoll_wait on fd() without blocking, less the wake-up, which sets
  // *woken; -1 when nothing was ready.
  int take_ready(epoll_event* events, int max, bool* woken);
  // Makes the next process() walk: a new DTLS session's handshake timer
  // arms libcoap's timerfd only at a walk.
  void wake();
  static void on_request_cb(coap_resource_t*, coap_session_t*, const coap_pdu_t*,
                            const coap_string_t*, coap_pdu_t*);
  static coap_response_t on_response_cb(coap_session_t*, const coap_pdu_t*, const coap_pdu_t*,
                                        coap_mid_t);
  static void on_nack_cb(coap_session_t*, const coap_pdu_t*, coap_nack_reason_t, coap_mid_t);
  static int on_event_cb(coap_session_t*, coap_event_t);
  static ssize_t on_datagram_send_cb(coap_session_t*, const uint8_t*, size_t);
  static const coap_bin_const_t* on_psk_identity_cb(coap_bin_const_t* identity, coap_session_t* s,
                                                    void*);
  static int on_certificate_cb(const char* cn, const uint8_t* der, size_t len, coap_session_t* s,
                               unsigned depth, int validated, void*);

  enum class Kind { Request, Observe, Cancel };
  struct Pending {
    coap_session_t* session;
    uint64_t tag;
    Kind kind = Kind::Request;
  };
  std::unordered_map<uint64_t, Pending>::iterator find_tag(uint64_t tag);

  Handler& handler_;
  coap_context_t* ctx_;
  uint64_t token_state_;
  std::unordered_map<uint64_t, Pending> pending_;  // by token
  DedupCache dedup_;
  coap_address_t listen_addr_{};
  coap_address_t dtls_addr_{};
  coap_endpoint_t* endpoint_ = nullptr;
  coap_endpoint_t* dtls_endpoint_ = nullptr;
  const Switchboard* switchboard_ = nullptr;
  PskLookup psk_lookup_;
  std::unordered_map<coap_session_t*, std::unique_ptr<DatagramPort>> ports_;
  DatagramPort* connecting_ = nullptr;  // the port of the session connect() creates
  bool carry_through_ports_ = false;
  std::vector<uint8_t> psk_key_;  // what on_psk_identity_cb last returned
  coap_bin_const_t psk_key_view_{};
  std::unordered_map<coap_session_t*, std::string> identities_;  // server sessions
  Certificate own_certificate_;  // libcoap reads it for every new server session
  std::unordered_map<coap_session_t*, PeerCertificate> peer_certificates_;  // server sessions
  size_t sessions_ = 0;
  coap_tick_t next_walk_ = 0;  // see process()
  // In libcoap's epoll set: makes process() walk at once. A new DTLS
  // session's handshake timer arms libcoap's timerfd only at the next walk.
  int wake_fd_ = -1;
  // Virtual time: something happened since the last walk, so libcoap's
  // next deadline may have moved; when that deadline is (0: none).
  bool dirty_ = true;
  coap_tick_t due_ = 0;
};

// Process-wide libcoap set-up, once, before any context exists.
void init_library();

}  // namespace hil::coap
