// What the driver (driver.h) needs of a host's CoAP: one client session per
// server account, CON requests on it, notifications on the session an
// observation came in on. Native devices implement it on libcoap's
// sessions through the radio, the firmware image on libcoap over lwIP.
#pragma once

#include <string>

#include "emulator/base/result.h"
#include "emulator/lwm2m/client/client.h"

namespace hil::lwm2m {

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends req.request as a CON to req.to, on the session session_key(req.to)
  // names. Reports exactly one of Driver::sent() (it left) and
  // Driver::not_sent() (why it cannot), at once or later; a report after
  // send() returned is followed by Driver::pump(). The answer or the give-up
  // then comes through Driver::on_response() or Driver::on_failure().
  virtual void send(const SendRequest& req) = 0;
  // Sends a notification. Errors: why it was not sent (the observation ends).
  virtual Status notify(const Notify& n) = 0;
  // Closes the session `key` names, if one is open; the next request to its
  // server opens a new one. False: none was open.
  virtual bool close(const std::string& key) = 0;
};

// The session a request to `to` goes on, and the transport's name for it:
// "bs coap://..." for the bootstrap server, "dm coap://..." for a server.
inline std::string session_key(const Account& to) {
  return (to.bootstrap ? "bs " : "dm ") + to.uri;
}

}  // namespace hil::lwm2m
