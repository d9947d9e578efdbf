// hil-qemu-run: boots one firmware image under QEMU and carries its UDP to
// real sockets on the host, printing its timeline. The smallest host for an
// image, with no radio and no Python: the QEMU test drives it as a
// subprocess, and it is the first thing to try with an image of your own.
//
//   hil-qemu-run --image fw.elf --dir /tmp/dev-1 [--timeout 30]
//                [--until-state registered] [--state-from uart|wire|both]
//                [--loss 0.3 --seed 7] -- ep=dev-1 bs=coap://127.0.0.1:5683 flash=flash.bin
//
// Everything after "--" goes to the firmware (QEMU's -append). Each
// firmware source port gets a UDP socket of its own on --bind (127.0.0.1),
// so servers see one address per flow; answers come back the same way.
//
// --until-state watches the image's "state" lines (uart), the state learned
// from its CoAP (wire, for an image that prints none: WireState), or either
// (both, the default).
//
// stdout, one line each, flushed:
//   EV <fw ms> <kind> <detail>      the firmware's events (kind "uart": other text)
//   HOST <host ms> <kind> <detail>  start, datagrams (with --trace), drops, exit,
//                                   "wire": what its CoAP says of its state
// Exit status: QEMU's (the firmware's exit code), 0 when --until-state was
// reached (QEMU is then killed), 124 on --timeout, 2 on bad arguments.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/qemu/frame_bridge.h"
#include "emulator/qemu/qemu_process.h"
#include "emulator/qemu/uart_log.h"
#include "emulator/qemu/wire_state.h"

namespace {

using hil::Ipv4SocketAddress;

struct Options {
  hil::qemu::QemuConfig qemu;
  double timeout_s = 0;  // 0: none
  std::string until_state;
  std::string state_from = "both";
  double loss = 0;
  uint64_t seed = 1;
  std::string bind = "127.0.0.1";
  bool trace = false;
};

void usage() {
  std::fprintf(stderr,
               "usage: hil-qemu-run --image ELF --dir WORKDIR [--qemu BIN] [--machine M]\n"
               "       [--timeout S] [--until-state STATE] [--state-from uart|wire|both]\n"
               "       [--loss P] [--seed N]\n"
               "       [--bind ADDR] [--trace] -- key=value ...\n");
}

bool parse(int argc, char** argv, Options* o) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "hil-qemu-run: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (a == "--image") {
      if (!(v = value("--image"))) return false;
      o->qemu.image = v;
    } else if (a == "--dir") {
      if (!(v = value("--dir"))) return false;
      o->qemu.work_dir = v;
    } else if (a == "--qemu") {
      if (!(v = value("--qemu"))) return false;
      o->qemu.qemu = v;
    } else if (a == "--machine") {
      if (!(v = value("--machine"))) return false;
      o->qemu.machine = v;
    } else if (a == "--timeout") {
      if (!(v = value("--timeout"))) return false;
      o->timeout_s = std::atof(v);
    } else if (a == "--until-state") {
      if (!(v = value("--until-state"))) return false;
      o->until_state = v;
    } else if (a == "--state-from") {
      if (!(v = value("--state-from"))) return false;
      o->state_from = v;
      if (o->state_from != "uart" && o->state_from != "wire" && o->state_from != "both") {
        std::fprintf(stderr, "hil-qemu-run: --state-from %s: use uart, wire or both\n", v);
        return false;
      }
    } else if (a == "--loss") {
      if (!(v = value("--loss"))) return false;
      o->loss = std::atof(v);
    } else if (a == "--seed") {
      if (!(v = value("--seed"))) return false;
      o->seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--bind") {
      if (!(v = value("--bind"))) return false;
      o->bind = v;
    } else if (a == "--trace") {
      o->trace = true;
    } else {
      std::fprintf(stderr, "hil-qemu-run: unknown option %s\n", a.c_str());
      return false;
    }
  }
  for (; i < argc; ++i) o->qemu.append.push_back(argv[i]);
  if (o->qemu.image.empty() || o->qemu.work_dir.empty()) {
    std::fprintf(stderr, "hil-qemu-run: --image and --dir are required\n");
    return false;
  }
  return true;
}

class Relay {
 public:
  // `on_state` gets each state the image's CoAP shows (WireState).
  Relay(const Options& o, int epoll_fd, std::function<void(const std::string&)> on_state)
      : o_(o), epoll_(epoll_fd), rng_(o.seed), on_state_(std::move(on_state)) {
    t0_ = std::chrono::steady_clock::now();
  }

  long long now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0_)
        .count();
  }

  void host(const char* kind, const std::string& detail) {
    std::printf("HOST %lld %s %s\n", now_ms(), kind, detail.c_str());
    std::fflush(stdout);
  }

  bool lose() {
    if (o_.loss <= 0) return false;
    rng_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = rng_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / 9007199254740992.0 < o_.loss;
  }

  // From the firmware: out through the flow's socket.
  void from_device(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                   const std::vector<uint8_t>& payload) {
    on_wire(wire_.on_uplink(payload.data(), payload.size()));
    if (lose()) {
      host("drop", "uplink " + src.to_string() + " -> " + dst.to_string());
      return;
    }
    int fd = socket_for(src);
    if (fd < 0) return;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(dst.ip);
    to.sin_port = htons(dst.port);
    if (::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) < 0)
      host("send_failed", dst.to_string() + ": " + std::strerror(errno));
    else if (o_.trace)
      host("uplink", src.to_string() + " -> " + dst.to_string() + " " +
                         std::to_string(payload.size()) + " B");
  }

  // A flow socket is readable: back to the firmware.
  void from_host(int fd, hil::qemu::FrameBridge& bridge) {
    auto it = flows_.find(fd);
    if (it == flows_.end()) return;
    uint8_t buf[2048];
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n =
          ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      Ipv4SocketAddress src{ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
      if (lose()) {
        host("drop", "downlink " + src.to_string() + " -> " + it->second.to_string());
        continue;
      }
      std::vector<uint8_t> payload(buf, buf + n);
      on_wire(wire_.on_downlink(payload.data(), payload.size()));
      if (!bridge.send_to_device(src, it->second, payload))
        host("send_failed", "frame to the firmware (socket full)");
      else if (o_.trace)
        host("downlink",
             src.to_string() + " -> " + it->second.to_string() + " " + std::to_string(n) + " B");
    }
  }

  bool is_flow(int fd) const { return flows_.count(fd) != 0; }

 private:
  void on_wire(std::optional<hil::qemu::WireChange> change) {
    if (!change) return;
    using hil::lwm2m::to_string;
    host("wire", (change->exit ? std::string("exit ") + to_string(*change->exit)
                               : std::string("state ") + to_string(*change->state)) +
                     ": " + change->why);
    if (change->state) on_state_(to_string(*change->state));
  }

  int socket_for(const Ipv4SocketAddress& device) {
    for (const auto& [fd, ep] : flows_)
      if (ep == device) return fd;
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, o_.bind.c_str(), &local.sin_addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      host("error", "cannot bind a UDP socket on " + o_.bind + ": " + std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return -1;
    }
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    flows_[fd] = device;
    host("flow", device.to_string() + " is " + o_.bind + ":" +
                     std::to_string(ntohs(local.sin_port)) + " on the host");
    return fd;
  }

  const Options& o_;
  int epoll_;
  uint64_t rng_;
  std::chrono::steady_clock::time_point t0_;
  std::map<int, Ipv4SocketAddress> flows_;  // host socket -> the firmware's address
  hil::qemu::WireState wire_;
  std::function<void(const std::string&)> on_state_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    usage();
    return 2;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  bool reached = false;
  auto watch = [&](const char* source, const std::string& state) {
    if (!o.until_state.empty() && state == o.until_state &&
        (o.state_from == "both" || o.state_from == source))
      reached = true;
  };
  Relay relay(o, ep, [&](const std::string& state) { watch("wire", state); });

  auto proc = hil::qemu::QemuProcess::start(o.qemu);
  if (!proc) {
    std::fprintf(stderr, "hil-qemu-run: %s\n", proc.error().message.c_str());
    return 2;
  }
  hil::qemu::QemuProcess& qemu = **proc;
  std::string cmd;
  for (const auto& a : qemu.argv()) cmd += (cmd.empty() ? "" : " ") + a;
  relay.host("start", "pid " + std::to_string(qemu.pid()) + ": " + cmd);

  hil::qemu::UartLog uart(qemu.uart_fd(), [&](const hil::Event& e) {
    std::printf("EV %lld %s%s%s\n", static_cast<long long>(e.time_ms), e.kind.c_str(),
                e.detail.empty() ? "" : " ", e.detail.c_str());
    std::fflush(stdout);
    if (e.kind == "state") watch("uart", e.detail);
  });
  hil::qemu::FrameBridge bridge(
      qemu.eth_fd(), [&](const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                         std::vector<uint8_t> payload) { relay.from_device(src, dst, payload); });

  for (int fd : {qemu.uart_fd(), qemu.eth_fd(), sig_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  int rc = -1;
  bool uart_open = true;
  while (rc < 0) {
    int wait_ms = 100;
    epoll_event events[16];
    int n = epoll_wait(ep, events, 16, wait_ms);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == qemu.uart_fd()) {
        if (uart_open && !uart.on_readable()) {
          uart_open = false;
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        }
      } else if (fd == qemu.eth_fd()) {
        bridge.on_readable();
      } else if (fd == sig_fd) {
        relay.host("signal", "stopping QEMU");
        qemu.stop();
        rc = 128 + SIGTERM;
      } else if (relay.is_flow(fd)) {
        relay.from_host(fd, bridge);
      }
    }
    if (reached && rc < 0) {
      relay.host("until_state", o.until_state + " reached; stopping QEMU");
      qemu.stop();
      rc = 0;
    }
    if (rc < 0 && o.timeout_s > 0 && relay.now_ms() > o.timeout_s * 1000) {
      relay.host("timeout", std::to_string(o.timeout_s) + " s; stopping QEMU");
      qemu.stop();
      rc = 124;
    }
    if (rc < 0) {
      if (auto e = qemu.poll_exit()) {
        if (uart_open) uart.on_readable();  // the last lines
        relay.host("exit", e->describe());
        rc = e->exited() ? e->code : 128 + e->signal;
      }
    }
  }
  const auto& c = bridge.counters();
  relay.host("bridge",
             "frames in " + std::to_string(c.frames_in) + " out " + std::to_string(c.frames_out) +
                 ", datagrams in " + std::to_string(c.datagrams_in) + ", arp replies " +
                 std::to_string(c.arp_replies) + ", ignored " + std::to_string(c.ignored));
  return rc;
}
