// One entry of a device's or a server's timeline. Kinds are short stable
// names shared with Python and the docs ("state", "bootstrap_exit", "tx",
// "rx", "commit", ...); the detail is for people.
#pragma once

#include <string>

#include "emulator/base/clock.h"

namespace hil {

struct Event {
  TimeMs time_ms = 0;
  std::string kind;
  std::string detail;
};

}  // namespace hil
