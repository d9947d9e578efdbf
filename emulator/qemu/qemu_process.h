// One qemu-system-arm process running one firmware image: its own working
// directory (semihosting files such as the flash image are relative to
// it), its UART on a stream socketpair, its Ethernet on a datagram
// socketpair (one datagram per frame). Killed with its parent thread
// (PR_SET_PDEATHSIG), or by stop().
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/result.h"

namespace hil::qemu {

struct QemuConfig {
  std::string qemu = "qemu-system-arm";  // found on PATH unless absolute
  std::string machine = "mps2-an385";
  std::string image;     // the ELF given to -kernel (made absolute)
  std::string work_dir;  // created if missing; QEMU runs there
  // The firmware's arguments (-append), space-separated key=value pairs
  // (firmware-images/README.md). Tokens must not contain spaces.
  std::vector<std::string> append;
  bool network = true;                  // attach the board's NIC to a socketpair
  std::vector<std::string> extra_args;  // appended verbatim to QEMU's command line
  // Start paused (-S) with a QMP monitor on a socketpair and the image told
  // "args_file=boot.args" (firmware-images/README.md, "Pooled start"):
  // resume() writes the arguments and lets it run. `append` must be empty.
  bool paused = false;
};

// `path` against the working directory, unless absolute: how start()
// names the image and the working directory.
std::string absolute_path(const std::string& path);

// How a QEMU process ended.
struct Exit {
  int code = -1;   // exit status when it exited (the firmware's SYS_EXIT_EXTENDED code)
  int signal = 0;  // the signal that killed it, else 0
  bool exited() const { return signal == 0; }
  std::string describe() const;  // "exit 3", "killed by signal 9"
};

class QemuProcess {
 public:
  // Errors: kInvalidArgument (no image, no QEMU, a bad argument), kIo (a
  // working directory that cannot be made, no socketpair, fork failed).
  // QEMU's own errors (bad machine, unreadable image) show as an early
  // exit; its stderr is in work_dir/qemu.log.
  static Result<std::unique_ptr<QemuProcess>> start(const QemuConfig& config);
  ~QemuProcess();  // stop()s
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Non-blocking, close-on-exec; owned by this object. eth_fd() is -1
  // without a network.
  int uart_fd() const { return uart_fd_; }
  int eth_fd() const { return eth_fd_; }
  const std::string& work_dir() const { return work_dir_; }
  // The command line it was started with, for logs.
  const std::vector<std::string>& argv() const { return argv_; }

  // Where QEMU's stdout and stderr go.
  const std::string& log_path() const { return log_path_; }

  // Paused starts only. The QMP socket (non-blocking), -1 otherwise.
  int qmp_fd() const { return qmp_fd_; }
  // Reads what QMP said; true once QEMU answered the query sent at start
  // (it has loaded the image and waits for resume()).
  bool poll_ready();
  // Hands a paused QEMU its firmware arguments (written to the args file in
  // its working directory), moves its log to `log_dir`/qemu.log (the same
  // filesystem), and lets the image run. Errors: kFailedPrecondition (not a
  // paused start, or resumed already), kInvalidArgument (an argument with a
  // space), kIo (the file, the log, QMP).
  Status resume(const std::vector<std::string>& append, const std::string& log_dir);

  // Reaps the process if it has ended (non-blocking). Once it returned a
  // value it keeps returning it.
  std::optional<Exit> poll_exit();
  // SIGKILL by PID (a power cut) and reap. Idempotent; returns how it ended.
  Exit stop();

 private:
  QemuProcess() = default;
  pid_t pid_ = -1;
  int uart_fd_ = -1;
  int eth_fd_ = -1;
  int qmp_fd_ = -1;
  bool paused_ = false;  // started with -S: owns its working directory
  bool resumed_ = false;
  int qmp_returns_ = 0;   // answers read from QMP
  std::string qmp_text_;  // the line QMP is still writing
  std::string work_dir_;
  std::string log_path_;
  std::vector<std::string> argv_;
  std::optional<Exit> exit_;
};

}  // namespace hil::qemu
