// The registration interface of an LwM2M server, sans-I/O: Register
// (POST /rd), Update (POST /rd/{id}), De-register (DELETE /rd/{id}), and
// expiry of registrations whose lifetime passes without an Update. The
// transport owns timers: it calls on_timeout() at next_deadline().
//
// Only the client that registered may Update or De-register: the
// transport names each peer's principal (its PSK identity, or for NoSec
// its host), and a request from another principal gets 4.03 and changes
// nothing. Registration ids are random (128 bits), never sequential.
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
#include "emulator/server/event_log.h"
#include "emulator/server/peer.h"

namespace hil::server {

struct Registration {
  std::string id;  // the Location-Path segment after "rd"
  std::string endpoint, lwm2m_version, binding;
  uint32_t lifetime_s = 0;
  std::string object_links;  // the link-format payload, as sent
  TimeMs registered_ms = 0, updated_ms = 0;
  PeerId peer = 0;
  std::string principal;  // who registered: only it may Update or De-register
  int updates = 0;
};

// What a flood of Registers can cost at most.
struct RegistrationLimits {
  // A longer "lt" is cut to this: such a registration expires then, and the
  // client's late Update gets 4.04 and it registers again.
  uint32_t max_lifetime_s = 86400;
  size_t max_registrations = 100000;  // a Register of a new endpoint beyond: 5.03
  size_t max_events = 10000;          // the oldest go first
};

struct RegistrationCounters {
  uint64_t events_evicted = 0;
  uint64_t lifetimes_capped = 0;   // Registers and Updates whose lt was cut
  uint64_t refused_full = 0;       // Registers refused at max_registrations
  uint64_t refused_principal = 0;  // Updates and De-registers from another client
};

class RegistrationServerCore {
 public:
  // Randomness for registration ids, from outside: seeded for a
  // reproducible run, the OS's otherwise (the default).
  using Random = std::function<uint64_t()>;

  // `grace_ms`: how long past its lifetime a registration survives, for
  // Updates delayed by the network.
  explicit RegistrationServerCore(TimeMs grace_ms = 0, RegistrationLimits limits = {},
                                  Random random = {});

  lwm2m::Response on_request(TimeMs now, PeerId peer, const lwm2m::Request& req);

  // Current registrations, ordered by endpoint.
  std::vector<Registration> registrations() const;
  size_t size() const { return by_id_.size(); }
  const Registration* find(const std::string& endpoint) const;
  // Kinds: "registered", "updated", "deregistered", "expired", "rejected";
  // the latest `max_events`.
  std::vector<Event> events() const { return events_.snapshot(); }
  // For a follower: see EventLog::since().
  std::pair<uint64_t, std::vector<Event>> events_since(uint64_t first) const {
    return events_.since(first);
  }
  RegistrationCounters counters() const;
  const RegistrationLimits& limits() const { return limits_; }

  // When the next registration expires, if any.
  std::optional<TimeMs> next_deadline() const;
  // Removes the registrations whose lifetime (plus grace) has passed.
  void on_timeout(TimeMs now);

  // Optional: why `peer` may not register as `endpoint`, or nullopt when
  // it may. A refused Register gets 4.03 and a "rejected" event.
  std::function<std::optional<std::string>(PeerId, const std::string& endpoint)> authorize;
  // A client refused outside a request (a failed DTLS handshake).
  void refuse(TimeMs now, const std::string& reason);
  // An event from outside the registration interface (observations).
  void note(Event e) { events_.push(std::move(e)); }

  // Optional: who `peer` is, for matching an Update or De-register to the
  // client that registered ("psk:IDENTITY", "host:ADDRESS"). Without it
  // each peer id is its own principal.
  std::function<std::string(PeerId)> principal;

  // Called on every change; the registration as it is (or was, when it
  // has just gone).
  std::function<void(const Event&, const Registration&)> on_change;

 private:
  lwm2m::Response reg(TimeMs now, PeerId peer, const lwm2m::Request& req);
  lwm2m::Response update(TimeMs now, PeerId peer, const lwm2m::Request& req);
  // `lt` cut to max_lifetime_s; a cut is counted and told in `detail`.
  uint32_t capped(uint32_t lt, std::string& detail);
  std::string principal_of(PeerId peer) const;
  std::string new_id();
  lwm2m::Response reject(TimeMs now, const lwm2m::Request& req, lwm2m::Code code,
                         const std::string& why);
  void record(TimeMs now, const char* kind, const Registration& r, const std::string& detail);
  TimeMs deadline(const Registration& r) const;
  void add(Registration r);
  void remove(std::string id);  // by value: callers pass strings it erases

  TimeMs grace_ms_;
  RegistrationLimits limits_;
  Random random_;
  RegistrationCounters counters_;
  std::map<std::string, Registration> by_id_;
  std::map<std::string, std::string> id_by_endpoint_;
  std::set<std::pair<TimeMs, std::string>> deadlines_;  // (deadline, id)
  EventLog events_;
};

}  // namespace hil::server
