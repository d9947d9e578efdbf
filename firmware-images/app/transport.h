// The client core's transport in the image: libcoap's core (4.3.1, on
// lwIP through coap-port/coap_io_fw.c). One client session per server
// account, as the emulator's devices have (emulator/coap/context.cc and
// emulator/device/device.cc): CON requests tagged with the core's request
// id, requests from servers on the same sessions, retransmitted requests
// answered from a small cache instead of running twice.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "emulator/lwm2m/client/client.h"

struct coap_context_t;
struct coap_session_t;

namespace fw {

struct Timing {
  uint32_t ack_timeout_ms = 2000;
  double ack_random_factor = 1.5;
  int max_retransmit = 4;
};

class Transport {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual hil::lwm2m::Response on_request(hil::lwm2m::Origin from,
                                            const hil::lwm2m::Request& r) = 0;
    virtual void on_response(uint64_t id, const hil::lwm2m::Response& r) = 0;
    // No answer after the retransmissions, or a reset.
    virtual void on_failure(uint64_t id, const std::string& reason) = 0;
  };

  // Errors: libcoap has no memory for a context.
  bool init(Handler& handler, const Timing& timing, uint64_t seed, int log_level);

  // Sends a CON request; false with *error when it cannot leave (a URI this
  // image cannot reach, coaps://, no memory). The answer or the failure
  // arrives through the handler.
  bool send(const hil::lwm2m::Account& to, const hil::lwm2m::Request& r, uint64_t id,
            std::string* error);

  // Closes the bootstrap-server session (after bootstrap, once a
  // retransmitted Finish can no longer arrive).
  void close_bootstrap_session();

 private:
  struct Session {
    hil::lwm2m::Origin origin;
    coap_session_t* coap = nullptr;
    std::string key;
    // A client has one request in flight per server (NSTART = 1), so the
    // current and the previous exchange cover every retransmission.
    struct Answered {
      int mid = -1;
      hil::lwm2m::Response response;
    };
    std::array<Answered, 2> answered;
    size_t next = 0;
  };
  struct Pending {
    coap_session_t* session;
    uint64_t id;
  };

  friend struct Callbacks;  // libcoap's handlers, in transport.cc
  Session* session_for(const hil::lwm2m::Account& to, std::string* error);

  Handler* handler_ = nullptr;
  coap_context_t* ctx_ = nullptr;
  Timing timing_;
  uint64_t token_state_ = 0;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
  std::map<uint64_t, Pending> pending_;  // by token
  std::string bootstrap_key_;
};

}  // namespace fw
