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

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr) return path;
  return std::string(buf) + "/" + path;
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
  std::string image = absolute(config.image);
  if (::access(image.c_str(), R_OK) != 0)
    return Error{ErrorCode::kIo, sys_error("qemu: image " + image)};
  if (config.work_dir.empty())
    return Error{ErrorCode::kInvalidArgument, "qemu: no working directory given"};
  std::string work_dir = absolute(config.work_dir);
  HIL_TRY(make_dirs(work_dir));
  for (const auto& a : config.append)
    if (a.find(' ') != std::string::npos)
      return Error{ErrorCode::kInvalidArgument,
                   "qemu: firmware argument '" + a + "' contains a space"};

  std::string program = find_program(config.qemu);
  if (program.empty())
    return Error{ErrorCode::kInvalidArgument,
                 "qemu: " + config.qemu + " not found on PATH (apt-get install qemu-system-arm)"};

  std::unique_ptr<QemuProcess> p(new QemuProcess());
  p->work_dir_ = work_dir;
  int uart[2], eth[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, uart) != 0)
    return Error{ErrorCode::kIo, sys_error("qemu: socketpair for the UART")};
  if (config.network &&
      ::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, eth) != 0) {
    ::close(uart[0]);
    ::close(uart[1]);
    return Error{ErrorCode::kIo, sys_error("qemu: socketpair for the Ethernet")};
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

  std::string append;
  for (const auto& a : config.append) append += (append.empty() ? "" : " ") + a;
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
    for (int fd : {uart[0], uart[1], eth[0], eth[1]})
      if (fd >= 0) ::close(fd);
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
    ::syscall(SYS_close_range, eth[1] >= 0 ? kChildEthFd + 1 : kChildUartFd + 1, ~0U, 0);
    ::execv(program.c_str(), cargv.data());
    ::_exit(127);
  }
  ::close(uart[1]);
  if (eth[1] >= 0) ::close(eth[1]);
  p->pid_ = pid;
  p->uart_fd_ = uart[0];
  p->eth_fd_ = eth[0];
  return p;
}

QemuProcess::~QemuProcess() {
  stop();
  if (uart_fd_ >= 0) ::close(uart_fd_);
  if (eth_fd_ >= 0) ::close(eth_fd_);
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
