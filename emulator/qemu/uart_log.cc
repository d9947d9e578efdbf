#include "emulator/qemu/uart_log.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace hil::qemu {
namespace {

constexpr size_t kMaxLine = 8192;  // a longer line is cut there

}  // namespace

Event UartLogParser::parse_line(const std::string& line) {
  // "EV <ms> <kind>[ <detail>]"
  if (line.rfind("EV ", 0) == 0) {
    size_t t_end = line.find(' ', 3);
    std::string t = line.substr(3, t_end == std::string::npos ? std::string::npos : t_end - 3);
    char* end = nullptr;
    long long ms = std::strtoll(t.c_str(), &end, 10);
    if (!t.empty() && end && *end == '\0' && t_end != std::string::npos) {
      size_t k_end = line.find(' ', t_end + 1);
      std::string kind = line.substr(
          t_end + 1, k_end == std::string::npos ? std::string::npos : k_end - t_end - 1);
      if (!kind.empty()) {
        std::string detail = k_end == std::string::npos ? "" : line.substr(k_end + 1);
        return Event{ms, kind, detail};
      }
    }
  }
  return Event{-1, "uart", line};
}

void UartLogParser::feed(const char* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    char c = data[i];
    if (c == '\n') {
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      on_event_(parse_line(partial_));
      partial_.clear();
    } else if (partial_.size() < kMaxLine) {
      partial_ += c;
    }
  }
}

void UartLogParser::flush() {
  if (partial_.empty()) return;
  on_event_(parse_line(partial_));
  partial_.clear();
}

UartLog::UartLog(int fd, OnEvent on_event)
    : fd_(fd), on_event_(std::move(on_event)), parser_([this](Event e) {
        ++lines_;
        if (e.kind == "state") state_ = e.detail;
        if (e.kind == "bootstrap_exit") exit_ = e.detail;
        if (on_event_) on_event_(e);
      }) {}

bool UartLog::on_readable() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      parser_.feed(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    parser_.flush();  // 0: QEMU closed its end
    return false;
  }
}

}  // namespace hil::qemu
