#include "log.h"

#include "board.h"

namespace fw {

#ifdef FW_FOREIGN_LOG
// What a third-party image prints (Zephyr's log format): nothing the host's
// UART parser knows, so the host must learn this image's state elsewhere.
void log_event(int64_t time_ms, const char* kind, const std::string& detail) {
  std::string line = "[" + std::to_string(time_ms) + "] <inf> lwm2m: " + kind;
#else
void log_event(int64_t time_ms, const char* kind, const std::string& detail) {
  std::string line = "EV " + std::to_string(time_ms) + " " + kind;
#endif
  if (!detail.empty()) {
    line += ' ';
    for (char c : detail) line += (c == '\n' || c == '\r') ? ' ' : c;
  }
  line += '\n';
  uart_write(line.data(), line.size());
}

void log_event(const char* kind, const std::string& detail) {
  log_event(static_cast<int64_t>(board_now_ms()), kind, detail);
}

}  // namespace fw
