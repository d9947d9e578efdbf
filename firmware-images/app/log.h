// The timeline on the UART: one line per event,
//   EV <ms since boot> <kind> <detail>\n
// kind has no spaces; detail runs to the end of the line (newlines and
// carriage returns in it become spaces). README.md, "UART log".
#pragma once

#include <cstdint>
#include <string>

namespace fw {

void log_event(int64_t time_ms, const char* kind, const std::string& detail);
void log_event(const char* kind, const std::string& detail);  // stamped now

}  // namespace fw
