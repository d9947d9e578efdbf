// A device's client state and bootstrap exits, learned from the CoAP it
// sends and is handed, for images that print nothing the host understands
// (a third-party image): the wire is the one thing every LwM2M client shares.
//
// What it concludes (firmware-images/README.md, "State from the wire"):
//   the device sends POST /bs (Request Bootstrap)      -> bootstrapping
//   it is answered 4.xx                                 -> exit rejected
//   it answers the server's POST /bs (Finish) with 2.xx -> exit finish, bootstrapped
//   it sends POST /rd (Register) with no Finish answered
//   since its Request Bootstrap                         -> exit idle_timeout, registering
//   it sends POST /rd otherwise                         -> registering
//   it sends a new Request Bootstrap after one was
//   accepted, with no Finish answered since             -> exit finish_timeout
//   it is answered 2.01 to Register                     -> registered
// Retransmissions and duplicates change nothing twice. DTLS records are not
// CoAP it can read: over DTLS it learns nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "emulator/lwm2m/client/client.h"

namespace hil::qemu {

// What one datagram taught; `why` says which message, for the timeline.
struct WireChange {
  std::optional<lwm2m::State> state;
  std::optional<lwm2m::BootstrapExit> exit;
  std::string why;
};

class WireState {
 public:
  // The image sent a datagram (as it left the image, before the radio).
  std::optional<WireChange> on_uplink(const uint8_t* data, size_t len);
  // The image was handed a datagram (after the radio).
  std::optional<WireChange> on_downlink(const uint8_t* data, size_t len);
  // A new boot: what the image had in RAM is gone.
  void reset() { *this = WireState(); }

 private:
  enum class Kind { RequestBootstrap, Register, Finish };
  struct Pending {
    std::vector<uint8_t> token;
    Kind kind;
  };
  std::optional<Kind> pending_kind(const std::vector<uint8_t>& token) const;
  void remember(std::vector<uint8_t> token, Kind kind);
  void forget(const std::vector<uint8_t>& token);

  std::deque<Pending> pending_;  // the few requests whose answers matter
  bool bootstrapping_ = false;   // a Request Bootstrap went out, no exit since
  bool accepted_ = false;        // ... and the server accepted it
};

// The exits two sources report for one boot, compared in order: the image's
// UART and the wire must tell the same story.
class ExitCheck {
 public:
  enum Source { kUart, kWire };
  // Exit number n of `from`; says how it differs from the other source's
  // exit number n, when that one is known and differs.
  std::optional<std::string> add(Source from, lwm2m::BootstrapExit exit);
  void reset() { *this = ExitCheck(); }

 private:
  std::vector<lwm2m::BootstrapExit> exits_[2];
};

}  // namespace hil::qemu
