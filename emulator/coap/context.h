// One libcoap context: a shard of device sessions, or a server's endpoint.
// libcoap does the message layer (CON/ACK, retransmission, tokens); this
// class adds what 4.3.1 lacks for LwM2M: a catch-all request handler that
// answers a retransmitted request from a cache instead of running it again,
// and requests tagged with the caller's id so answers and give-ups find
// their way back. All calls on the thread that owns the context.
#pragma once

#include <coap3/coap.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "emulator/base/result.h"
#include "emulator/coap/dedup.h"
#include "emulator/lwm2m/model/message.h"

namespace hil::coap {

// RFC 7252 transmission parameters, per session.
struct Timing {
  int64_t ack_timeout_ms = 2000;
  double ack_random_factor = 1.5;
  int max_retransmit = 4;

  // MAX_TRANSMIT_SPAN: the last retransmission of a CON goes out this long
  // after the first transmission.
  int64_t max_transmit_span_ms() const;
  // MAX_TRANSMIT_WAIT: by then a CON has been answered or given up on.
  int64_t max_transmit_wait_ms() const;
};

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
    // No answer after the retransmissions, a reset, or an ICMP error.
    virtual void on_failure(coap_session_t* s, uint64_t tag, const std::string& reason) = 0;
    // libcoap freed an idle server-side session; forget the pointer.
    virtual void on_session_closed(coap_session_t*) {}
  };

  // `seed` makes tokens reproducible.
  Context(Handler& handler, uint64_t seed);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Server side: listen on `addr` (port 0 picks a free one).
  Status listen(const coap_address_t& addr);
  const coap_address_t& listen_address() const { return listen_addr_; }

  // Client side: a session from `local` to `remote`, released by release().
  coap_session_t* connect(const coap_address_t& local, const coap_address_t& remote,
                          const Timing& timing);
  void release(coap_session_t* s);

  // A CON request; its answer or failure comes back with `tag`.
  bool send(coap_session_t* s, const lwm2m::Request& r, uint64_t tag);

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
  // quiet). True if it did anything.
  bool process_virtual(bool readable, bool refresh);
  // Virtual time: ms from now until the next retransmission or session
  // timeout libcoap reported at the last walk; -1: none.
  int64_t due_in_ms() const;

 private:
  static void on_request_cb(coap_resource_t*, coap_session_t*, const coap_pdu_t*,
                            const coap_string_t*, coap_pdu_t*);
  static coap_response_t on_response_cb(coap_session_t*, const coap_pdu_t*, const coap_pdu_t*,
                                        coap_mid_t);
  static void on_nack_cb(coap_session_t*, const coap_pdu_t*, coap_nack_reason_t, coap_mid_t);
  static int on_event_cb(coap_session_t*, coap_event_t);

  struct Pending {
    coap_session_t* session;
    uint64_t tag;
  };

  Handler& handler_;
  coap_context_t* ctx_;
  uint64_t token_state_;
  std::unordered_map<uint64_t, Pending> pending_;  // by token
  DedupCache dedup_;
  coap_address_t listen_addr_{};
  size_t sessions_ = 0;
  coap_tick_t next_walk_ = 0;  // see process()
  // Virtual time: something happened since the last walk, so libcoap's
  // next deadline may have moved; when that deadline is (0: none).
  bool dirty_ = true;
  coap_tick_t due_ = 0;
};

// Applies `timing` to a session, client or server side.
void apply_timing(coap_session_t* s, const Timing& timing);

// Process-wide libcoap set-up, once, before any context exists.
void init_library();

}  // namespace hil::coap
