#include "emulator/qemu/qemu_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace hil::qemu {
namespace {

// The fds QEMU's command line names: fixed, dup2'ed in the child.
constexpr int kChildUartFd = 3;
constexpr int kChildEthFd = 4;
constexpr int kChildQmpFd = 5;
constexpr char kArgsFile[] = "boot.args";  // a paused start's, in its working directory
// Sent as soon as QEMU starts; the second answer says it is initialised.
constexpr char kQmpHello[] = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\"}\n";
constexpr char kQmpCont[] = "{\"execute\":\"cont\"}\n";
constexpr char kQmpReturn[] = "\"return\"";

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

Status make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
        return Error{ErrorCode::kIo, sys_error("cannot create directory " + partial)};
    }
  }
  return ok_status();
}

// execvp searches PATH after fork; doing it before keeps the child to
// async-signal-safe calls.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = (end > start ? dirs.substr(start, end - start) : ".") + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// The firmware's arguments as one -append line; kInvalidArgument for a
// token with a space, which the image would read as two.
Result<std::string> append_line(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& a : words) {
    if (a.find(' ') != std::string::npos)
      return Error{ErrorCode::kInvalidArgument,
                   "qemu: firmware argument '" + a + "' contains a space"};
    line += (line.empty() ? "" : " ") + a;
  }
  return line;
}

}  // namespace

std::string absolute_path(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr) return path;
  return std::string(buf) + "/" + path;
}

namespace {

// Moves a descriptor the child hands QEMU above the fixed numbers, so that
// dup2()ing one onto a fixed number cannot close another.
int above_fixed_fds(int fd) {
  if (fd < 0 || fd > kChildQmpFd) return fd;
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, kChildQmpFd + 1);
  ::close(fd);
  return high;
}

// `socket`: send with MSG_NOSIGNAL, so that a QEMU that died gives EPIPE,
// not a SIGPIPE that would end the host.
bool write_all(int fd, const std::string& text, bool socket) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = socket ? ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL)
                       : ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// What waitpid()'s status says of how the process ended.
Exit exit_of(int status) {
  Exit e;
  if (WIFEXITED(status)) {
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

}  // namespace

std::string Exit::describe() const {
  return signal ? "killed by signal " + std::to_string(signal) : "exit " + std::to_string(code);
}

Result<std::unique_ptr<QemuProcess>> QemuProcess::start(const QemuConfig& config) {
  if (config.image.empty())
    return Error{ErrorCode::kInvalidArgument, "qemu: no firmware image given"};
  std::string image = absolute_path(config.image);
  if (::access(image.c_str(), R_OK) != 0)
    return Error{ErrorCode::kIo, sys_error("qemu: image " + image)};
  if (config.work_dir.empty())
    return Error{ErrorCode::kInvalidArgument, "qemu: no working directory given"};
  std::string work_dir = absolute_path(config.work_dir);
  HIL_TRY(make_dirs(work_dir));
  if (config.paused && !config.append.empty())
    return Error{ErrorCode::kInvalidArgument,
                 "qemu: a paused start takes its firmware arguments in resume(), not `append`"};
  HIL_TRY_ASSIGN(std::string append, append_line(config.append));

  std::string program = find_program(config.qemu);
  if (program.empty())
    return Error{ErrorCode::kInvalidArgument,
                 "qemu: " + config.qemu + " not found on PATH (apt-get install qemu-system-arm)"};

  std::unique_ptr<QemuProcess> p(new QemuProcess());
  p->work_dir_ = work_dir;
  int uart[2], eth[2] = {-1, -1}, qmp[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {uart[0], uart[1], eth[0], eth[1], qmp[0], qmp[1]})
      if (fd >= 0) ::close(fd);
  };
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, uart) != 0)
    return Error{ErrorCode::kIo, sys_error("qemu: socketpair for the UART")};
  if (config.network &&
      ::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, eth) != 0) {
    close_all();
    return Error{ErrorCode::kIo, sys_error("qemu: socketpair for the Ethernet")};
  }
  if (config.paused &&
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, qmp) != 0) {
    close_all();
    return Error{ErrorCode::kIo, sys_error("qemu: socketpair for QMP")};
  }
  uart[1] = above_fixed_fds(uart[1]);
  eth[1] = above_fixed_fds(eth[1]);
  qmp[1] = above_fixed_fds(qmp[1]);
  if (uart[1] < 0 || (config.network && eth[1] < 0) || (config.paused && qmp[1] < 0)) {
    close_all();
    return Error{ErrorCode::kIo, sys_error("qemu: moving QEMU's descriptors above fd 5")};
  }
  // Frames queue in the datagram socket while QEMU or the host is busy.
  if (eth[0] >= 0) {
    int size = 1 << 20;
    ::setsockopt(eth[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(eth[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  // QEMU's end must block: it does its own polling.
  ::fcntl(uart[1], F_SETFL, ::fcntl(uart[1], F_GETFL) & ~O_NONBLOCK);
  if (eth[1] >= 0) ::fcntl(eth[1], F_SETFL, ::fcntl(eth[1], F_GETFL) & ~O_NONBLOCK);
  if (qmp[1] >= 0) ::fcntl(qmp[1], F_SETFL, ::fcntl(qmp[1], F_GETFL) & ~O_NONBLOCK);

  std::vector<std::string>& argv = p->argv_;
  argv = {config.qemu,
          "-M",
          config.machine,
          "-display",
          "none",
          "-monitor",
          "none",
          "-nodefaults",
          "-chardev",
          "socket,id=c0,fd=" + std::to_string(kChildUartFd),
          "-serial",
          "chardev:c0",
          "-semihosting-config",
          "enable=on,target=native",
          "-kernel",
          image};
  if (config.network) {
    argv.insert(argv.end(),
                {"-netdev", "dgram,id=n0,local.type=fd,local.str=" + std::to_string(kChildEthFd),
                 "-net", "nic,netdev=n0"});
  }
  if (config.paused) {
    append = std::string("args_file=") + kArgsFile;
    argv.insert(argv.end(), {"-S", "-chardev", "socket,id=q0,fd=" + std::to_string(kChildQmpFd),
                             "-mon", "chardev=q0,mode=control"});
  }
  if (!append.empty()) argv.insert(argv.end(), {"-append", append});
  argv.insert(argv.end(), config.extra_args.begin(), config.extra_args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::string log_path = work_dir + "/qemu.log";
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    close_all();
    errno = e;
    return Error{ErrorCode::kIo, sys_error("qemu: fork")};
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only (the parent may have threads).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    if (::chdir(work_dir.c_str()) != 0) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    // dup2 clears close-on-exec on the copies; everything else closes.
    if (::dup2(uart[1], kChildUartFd) < 0) ::_exit(127);
    if (eth[1] >= 0 && ::dup2(eth[1], kChildEthFd) < 0) ::_exit(127);
    if (qmp[1] >= 0 && ::dup2(qmp[1], kChildQmpFd) < 0) ::_exit(127);
    if (eth[1] < 0) ::close(kChildEthFd);
    ::syscall(SYS_close_range, qmp[1] >= 0 ? kChildQmpFd + 1 : kChildEthFd + 1, ~0U, 0);
    ::execv(program.c_str(), cargv.data());
    ::_exit(127);
  }
  ::close(uart[1]);
  if (eth[1] >= 0) ::close(eth[1]);
  if (qmp[1] >= 0) ::close(qmp[1]);
  p->pid_ = pid;
  p->uart_fd_ = uart[0];
  p->eth_fd_ = eth[0];
  p->qmp_fd_ = qmp[0];
  p->log_path_ = log_path;
  p->paused_ = config.paused;
  // Queued until QEMU reads it; its answers say when it is ready.
  if (config.paused && !write_all(qmp[0], kQmpHello, true))
    return Error{ErrorCode::kIo, sys_error("qemu: writing to QMP")};
  return p;
}

QemuProcess::~QemuProcess() {
  stop();
  if (uart_fd_ >= 0) ::close(uart_fd_);
  if (eth_fd_ >= 0) ::close(eth_fd_);
  if (qmp_fd_ >= 0) ::close(qmp_fd_);
  if (paused_) {
    // Its working directory was made for it alone (QemuPool's slot).
    ::unlink((work_dir_ + "/" + kArgsFile).c_str());
    if (log_path_ == work_dir_ + "/qemu.log") ::unlink(log_path_.c_str());
    ::rmdir(work_dir_.c_str());
  }
}

bool QemuProcess::poll_ready() {
  if (qmp_fd_ < 0) return false;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(qmp_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // One answer or event per line; a read may end inside a line.
    qmp_text_.append(buf, static_cast<size_t>(n));
    size_t lines_end = qmp_text_.rfind('\n');
    if (lines_end == std::string::npos) continue;
    for (size_t at = 0; (at = qmp_text_.find(kQmpReturn, at)) < lines_end;
         at += sizeof kQmpReturn - 1)
      ++qmp_returns_;
    qmp_text_.erase(0, lines_end + 1);
  }
  return qmp_returns_ >= 2;
}

Status QemuProcess::resume(const std::vector<std::string>& append, const std::string& log_dir) {
  if (!paused_ || resumed_)
    return Error{ErrorCode::kFailedPrecondition,
                 "qemu: pid " + std::to_string(pid_) + " was not started paused, or runs already"};
  HIL_TRY_ASSIGN(std::string text, append_line(append));
  std::string args_path = work_dir_ + "/" + kArgsFile;
  int fd = ::open(args_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::kIo, sys_error("qemu: " + args_path)};
  bool written = write_all(fd, text + "\n", false);
  ::close(fd);
  if (!written) return Error{ErrorCode::kIo, sys_error("qemu: writing " + args_path)};
  std::string log = log_dir + "/qemu.log";
  if (::rename(log_path_.c_str(), log.c_str()) != 0)
    return Error{ErrorCode::kIo, sys_error("qemu: moving " + log_path_ + " to " + log)};
  log_path_ = log;
  if (!write_all(qmp_fd_, kQmpCont, true))
    return Error{ErrorCode::kIo, sys_error("qemu: QMP 'cont' to pid " + std::to_string(pid_))};
  resumed_ = true;
  return ok_status();
}

std::optional<Exit> QemuProcess::poll_exit() {
  if (exit_ || pid_ <= 0) return exit_;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return std::nullopt;
  exit_ = exit_of(status);
  return exit_;
}

Exit QemuProcess::stop() {
  if (auto e = poll_exit()) return *e;
  if (pid_ <= 0) return Exit{};
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_ = exit_of(status);
  return *exit_;
}

}  // namespace hil::qemu
