// The registration interface of an LwM2M server, sans-I/O: Register
// (POST /rd), Update (POST /rd/{id}), De-register (DELETE /rd/{id}), and
// expiry of registrations whose lifetime passes without an Update. The
// transport owns timers: it calls on_timeout() at next_deadline().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/event.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/server/peer.h"

namespace hil::server {

struct Registration {
  std::string id;  // the Location-Path segment after "rd"
  std::string endpoint, lwm2m_version, binding;
  uint32_t lifetime_s = 0;
  std::string object_links;  // the link-format payload, as sent
  TimeMs registered_ms = 0, updated_ms = 0;
  PeerId peer = 0;
  int updates = 0;
};

class RegistrationServerCore {
 public:
  // `grace_ms`: how long past its lifetime a registration survives, for
  // Updates delayed by the network.
  explicit RegistrationServerCore(TimeMs grace_ms = 0);

  lwm2m::Response on_request(TimeMs now, PeerId peer, const lwm2m::Request& req);

  // Current registrations, ordered by endpoint.
  std::vector<Registration> registrations() const;
  const Registration* find(const std::string& endpoint) const;
  // Kinds: "registered", "updated", "deregistered", "expired", "rejected".
  const std::vector<Event>& events() const { return events_; }

  // When the next registration expires, if any.
  std::optional<TimeMs> next_deadline() const;
  // Removes the registrations whose lifetime (plus grace) has passed.
  void on_timeout(TimeMs now);

  // Optional: why `peer` may not register as `endpoint`, or nullopt when
  // it may. A refused Register gets 4.03 and a "rejected" event.
  std::function<std::optional<std::string>(PeerId, const std::string& endpoint)> authorize;
  // A client refused outside a request (a failed DTLS handshake).
  void refuse(TimeMs now, const std::string& reason);

  // Called on every change; the registration as it is (or was, when it
  // has just gone).
  std::function<void(const Event&, const Registration&)> on_change;

 private:
  lwm2m::Response reg(TimeMs now, PeerId peer, const lwm2m::Request& req);
  lwm2m::Response update(TimeMs now, PeerId peer, const lwm2m::Request& req);
  lwm2m::Response reject(TimeMs now, const lwm2m::Request& req, lwm2m::Code code,
                         const std::string& why);
  void record(TimeMs now, const char* kind, const Registration& r, const std::string& detail);
  TimeMs deadline(const Registration& r) const;
  void add(Registration r);
  void remove(std::string id);  // by value: callers pass strings it erases

  TimeMs grace_ms_;
  std::map<std::string, Registration> by_id_;
  std::map<std::string, std::string> id_by_endpoint_;
  std::set<std::pair<TimeMs, std::string>> deadlines_;  // (deadline, id)
  std::vector<Event> events_;
  uint64_t next_id_ = 1;
};

}  // namespace hil::server
