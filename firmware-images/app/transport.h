// The driver's transport in the image: libcoap's core (4.3.1, on lwIP
// through coap-port/coap_io_fw.c). One client session per server account
// (lwm2m::session_key), as the emulator's devices have: CON requests tagged
// with the core's request id, requests from servers on the same sessions,
// retransmitted requests answered from a small cache instead of running
// twice. NoSec only; no notifications (libcoap is built WITHOUT_OBSERVE).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "emulator/coap/timing.h"
#include "emulator/lwm2m/driver/driver.h"

namespace fw {

class Transport final : public hil::lwm2m::Transport {
 public:
  // False: libcoap has no memory for a context.
  bool init(hil::lwm2m::Driver& driver, const hil::coap::Timing& timing, uint64_t seed,
            int log_level);

  void send(const hil::lwm2m::SendRequest& req) override;
  // kUnsupported: this image sends no notifications.
  hil::Status notify(const hil::lwm2m::Notify& n) override;
  bool close(const std::string& key) override;

 private:
  struct Session {
    hil::lwm2m::Origin origin;
    coap_session_t* coap = nullptr;
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
  // The request as a PDU, handed to libcoap; false with *error when it
  // did not leave.
  bool transmit(Session& s, const hil::lwm2m::SendRequest& req, std::string* error);

  hil::lwm2m::Driver* driver_ = nullptr;
  coap_context_t* ctx_ = nullptr;
  hil::coap::Timing timing_;
  uint64_t token_state_ = 0;
  std::map<std::string, std::unique_ptr<Session>> sessions_;  // by session_key
  std::map<uint64_t, Pending> pending_;                       // by token
};

}  // namespace fw
