// The firmware's timeline from its UART: lines "EV <ms> <kind> <detail>"
// (firmware-images/README.md, "UART log") become events; any other line is
// an event of kind "uart" carrying the text, so a crash message is not lost.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "emulator/base/event.h"

namespace hil::qemu {

// Incremental: feed() any chunk; complete lines come out through the
// callback. time_ms is the firmware's clock (ms since its boot).
class UartLogParser {
 public:
  using OnEvent = std::function<void(Event)>;
  explicit UartLogParser(OnEvent on_event) : on_event_(std::move(on_event)) {}

  void feed(const char* data, size_t len);
  // A last line without its newline (at QEMU's exit).
  void flush();

  // Parses one line (without the newline).
  static Event parse_line(const std::string& line);

 private:
  OnEvent on_event_;
  std::string partial_;
};

// Reads a UART socket (QemuProcess::uart_fd()) into a parser, and keeps what
// a host needs to know at a glance: the client's state and how its last
// bootstrap ended, from the "state" and "bootstrap_exit" events.
class UartLog {
 public:
  using OnEvent = std::function<void(const Event&)>;
  // `fd` is non-blocking and not owned.
  UartLog(int fd, OnEvent on_event);

  int fd() const { return fd_; }
  // Call when fd() is readable: reads until it would block. False once the
  // other end closed (QEMU exited).
  bool on_readable();

  const std::string& state() const { return state_; }          // "" until the first
  const std::string& bootstrap_exit() const { return exit_; }  // "none" until one
  uint64_t lines() const { return lines_; }

 private:
  int fd_;
  OnEvent on_event_;
  UartLogParser parser_;
  std::string state_;
  std::string exit_ = "none";
  uint64_t lines_ = 0;
};

}  // namespace hil::qemu
