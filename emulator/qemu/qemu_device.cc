#include "emulator/qemu/qemu_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>

#include "emulator/coap/address.h"

namespace hil::qemu {
namespace {

constexpr TimeMs kExitPollMs = 50;  // without pidfd_open only

std::optional<lwm2m::State> parse_state(const std::string& s) {
  for (auto st : {lwm2m::State::Factory, lwm2m::State::Bootstrapping, lwm2m::State::Bootstrapped,
                  lwm2m::State::Registering, lwm2m::State::Registered, lwm2m::State::Failed})
    if (s == lwm2m::to_string(st)) return st;
  return std::nullopt;
}

std::optional<lwm2m::BootstrapExit> parse_exit(const std::string& s) {
  for (auto e :
       {lwm2m::BootstrapExit::None, lwm2m::BootstrapExit::Finish, lwm2m::BootstrapExit::IdleTimeout,
        lwm2m::BootstrapExit::FinishTimeout, lwm2m::BootstrapExit::Rejected})
    if (s == lwm2m::to_string(e)) return e;
  return std::nullopt;
}

// What QEMU said about its own failure: its first line that is not a
// warning (the register dump after "qemu: fatal: ..." is not worth a timeline).
std::string qemu_complaint(const std::string& work_dir) {
  std::ifstream log(work_dir + "/qemu.log");
  std::string line, last;
  while (std::getline(log, line)) {
    if (line.empty()) continue;
    if (line.find("qemu") != std::string::npos && line.find("warning") == std::string::npos)
      return line.substr(0, 300);
    last = line;
  }
  return last.substr(0, 300);
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

QemuDevice::QemuDevice(QemuDeviceConfig config, Reactor& reactor, radio::Radio& radio,
                       std::function<void()> on_change)
    : config_(std::move(config)),
      reactor_(reactor),
      radio_(radio),
      on_change_(std::move(on_change)),
      link_(config_.link, config_.link_seed) {}

QemuDevice::~QemuDevice() {
  reactor_.cancel(restart_timer_);
  stop_process();
}

std::string QemuDevice::address() const {
  std::string ip = coap::to_string(coap::device_address(config_.address_index));
  return ip.substr(0, ip.rfind(':'));
}

std::string QemuDevice::flash_path() const {
  if (config_.flash_file.empty() || !config_.append) return "";
  if (config_.flash_file[0] == '/') return config_.flash_file;
  return config_.work_dir + "/" + config_.flash_file;
}

void QemuDevice::record(std::string kind, std::string detail) {
  timeline_.push_back(Event{now(), std::move(kind), std::move(detail)});
}

std::vector<std::string> QemuDevice::boot_args(bool absolute_flash) const {
  const auto& c = config_;
  if (!c.append) return {};
  std::vector<std::string> a = lwm2m::to_words(c.boot);
  a.push_back("seed=" + std::to_string(c.seed));
  if (!c.flash_file.empty()) {
    a.push_back("flash=" + (absolute_flash ? flash_path() : c.flash_file));
    a.push_back("flash_size=" + std::to_string(c.flash_geometry.size));
    a.push_back("flash_sector=" + std::to_string(c.flash_geometry.sector_size));
    a.push_back("flash_page=" + std::to_string(c.flash_geometry.page_size));
    a.push_back("flash_seed=" + std::to_string(c.seed ^ 0xf1a5f1a5ULL));
    a.push_back(std::string("flash_violation=") +
                (c.on_violation == flash::ViolationPolicy::kError ? "error" : "and"));
    a.push_back("flash_endurance=" + std::to_string(c.endurance));
  }
  a.insert(a.end(), c.args.begin(), c.args.end());
  if (armed_cut_) {
    a.push_back("cut_op=" + std::to_string(armed_cut_->first));
    if (armed_cut_->second) a.push_back("cut_byte=" + std::to_string(*armed_cut_->second));
  }
  return a;
}

std::unique_ptr<QemuProcess> QemuDevice::resume_pooled(const QemuConfig& qc) {
  if (config_.pool == nullptr) return nullptr;
  auto proc = config_.pool->take(qc);
  if (!proc) return nullptr;
  std::vector<std::string> args = boot_args(true);
  if (Status s = proc->resume(args, qc.work_dir); !s) {
    record("qemu_pool", "pre-started pid " + std::to_string(proc->pid()) +
                            " not used, starting QEMU instead: " + s.error().message);
    return nullptr;  // killed with it
  }
  std::string text;
  for (const auto& a : args) text += (text.empty() ? "" : " ") + a;
  record("qemu_pool", "pid " + std::to_string(proc->pid()) +
                          " was pre-started paused; resumed with args_file: " + text);
  return proc;
}

Status QemuDevice::start() {
  if (proc_)
    return Error{ErrorCode::kFailedPrecondition, config_.boot.client.endpoint +
                                                     ": QEMU is already running (pid " +
                                                     std::to_string(proc_->pid()) + ")"};
  reactor_.cancel(restart_timer_);
  restart_timer_ = 0;
  QemuConfig qc;
  qc.qemu = config_.qemu;
  qc.machine = config_.machine;
  qc.image = config_.image;
  qc.work_dir = config_.work_dir;
  Result<std::unique_ptr<QemuProcess>> started = resume_pooled(qc);
  if (!*started) {
    qc.append = boot_args(false);
    started = QemuProcess::start(qc);
  }
  armed_cut_.reset();  // this boot's, whether it started or not
  if (!started) {
    record("boot_failed", started.error().message);
    on_change_();
    return started.error();
  }
  proc_ = std::move(*started);
  // RAM starts afresh, as a native device's core after a reboot.
  state_.store(lwm2m::State::Factory, std::memory_order_release);
  exit_.store(lwm2m::BootstrapExit::None, std::memory_order_release);
  exit_counts_.clear();
  wire_.reset();
  uart_spoke_ = false;
  exit_check_.reset();
  std::string cmd;
  for (const auto& a : proc_->argv()) cmd += (cmd.empty() ? "" : " ") + a;
  record("qemu_start", "pid " + std::to_string(proc_->pid()) + ": " + cmd);
  powered_.store(true, std::memory_order_release);

  uart_ = std::make_unique<UartLog>(proc_->uart_fd(), [this](const Event& e) { on_event(e); });
  uart_open_ = true;
  reactor_.watch(proc_->uart_fd(), [this] { on_uart(); });
  bridge_ = std::make_unique<FrameBridge>(
      proc_->eth_fd(),
      [this](const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
             std::vector<uint8_t> payload) { on_datagram(src, dst, std::move(payload)); });
  reactor_.watch(proc_->eth_fd(), [this] { bridge_->on_readable(); });
  pid_fd_ = open_pidfd(proc_->pid());
  if (pid_fd_ >= 0) {
    reactor_.watch(pid_fd_, [this] { on_exited(); });
  } else {
    arm_exit_poll();
  }
  on_change_();
  return ok_status();
}

void QemuDevice::arm_exit_poll() {
  exit_poll_timer_ = reactor_.at(now() + kExitPollMs, [this] {
    exit_poll_timer_ = 0;
    if (proc_ && proc_->poll_exit()) {
      on_exited();
    } else if (proc_) {
      arm_exit_poll();
    }
  });
}

void QemuDevice::on_uart() {
  if (uart_open_ && !uart_->on_readable()) {
    // QEMU closed its end (it is exiting): the pidfd says when it is gone.
    uart_open_ = false;
    reactor_.unwatch(proc_->uart_fd());
  }
}

bool QemuDevice::wire_decides() const {
  return config_.state_source == StateSource::kWire ||
         (config_.state_source == StateSource::kBoth && !uart_spoke_);
}

void QemuDevice::set_state(lwm2m::State s) {
  state_.store(s, std::memory_order_release);
  on_change_();
}

void QemuDevice::count_exit(lwm2m::BootstrapExit x, TimeMs at) {
  exit_.store(x, std::memory_order_release);
  ++exit_counts_[lwm2m::to_string(x)];
  if (bootstrap_ms_ < 0 && first_request_ms_ >= 0) bootstrap_ms_ = at - first_request_ms_;
  on_change_();
}

void QemuDevice::check_exit(ExitCheck::Source source, lwm2m::BootstrapExit x) {
  auto differs = exit_check_.add(source, x);
  if (!differs || config_.state_source != StateSource::kBoth || !uart_spoke_) return;
  ++disagreements_;
  record("source_disagreement", *differs);
}

void QemuDevice::on_wire(std::optional<WireChange> change) {
  if (!change) return;
  std::string what = change->exit ? std::string("exit ") + lwm2m::to_string(*change->exit)
                                  : std::string("state ") + lwm2m::to_string(*change->state);
  record("wire", what + ": " + change->why);
  if (change->exit) check_exit(ExitCheck::kWire, *change->exit);
  if (!wire_decides()) return;
  if (change->state == lwm2m::State::Bootstrapping && first_request_ms_ < 0)
    first_request_ms_ = now();
  if (change->state) {
    record("state", lwm2m::to_string(*change->state));
    set_state(*change->state);
  }
  if (change->exit) {
    record("bootstrap_exit", lwm2m::to_string(*change->exit));
    count_exit(*change->exit, now());
  }
}

void QemuDevice::on_event(Event e) {
  e.time_ms = now();  // the host's clock, as every other timeline
  bool from_uart = config_.state_source != StateSource::kWire;
  if (e.kind == "state") {
    if (auto s = parse_state(e.detail); s && from_uart) {
      uart_spoke_ = true;
      set_state(*s);
    }
  } else if (e.kind == "bootstrap_exit") {
    if (auto x = parse_exit(e.detail); x && from_uart) {
      uart_spoke_ = true;
      check_exit(ExitCheck::kUart, *x);
      count_exit(*x, e.time_ms);
    }
  } else if (e.kind == "boot") {
    cut_pending_ = false;  // it booted: whatever the cut left was usable
  } else if (e.kind == "bootstrap_request") {
    if (first_request_ms_ < 0 && from_uart) first_request_ms_ = e.time_ms;
  } else if (!config_.record_messages && (e.kind == "tx" || e.kind == "rx")) {
    return;
  }
  timeline_.push_back(std::move(e));
}

Ipv4SocketAddress QemuDevice::host_side(const Ipv4SocketAddress& image_dst) const {
  for (const auto& [image, host] : config_.server_map)
    if (image == image_dst) return host;
  return image_dst;
}

void QemuDevice::on_datagram(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                             std::vector<uint8_t> payload) {
  const Ipv4SocketAddress server = host_side(dst);
  Flow* flow = nullptr;
  for (auto& f : flows_)
    if (f.image == src && f.server == server) flow = &f;
  if (flow == nullptr) {
    // A new flow: a radio path from the device's address to the server (a
    // newer flow to the same server takes the path over).
    flows_.push_back(Flow{src, server, nullptr});
    flow = &flows_.back();
    record("flow", src.to_string() + " -> " + dst.to_string() +
                       (server == dst ? std::string() : " (mapped to " + server.to_string() + ")") +
                       " is " + address() + " on the radio");
    flow->path = radio_.open_path(
        device_ip(), server,
        radio::Route{&link_, [this](Event e) { timeline_.push_back(std::move(e)); }, &capture_});
    flow->path->set_receiver([this, src, dst](const uint8_t* data, size_t len) {
      if (!bridge_) return;
      on_wire(wire_.on_downlink(data, len));
      if (!bridge_->send_to_device(dst, src, std::vector<uint8_t>(data, data + len)))
        record("downlink_failed", "the image's Ethernet socket is full");
    });
  }
  on_wire(wire_.on_uplink(payload.data(), payload.size()));
  flow->path->send(payload.data(), payload.size());
}

uint32_t QemuDevice::device_ip() const {
  return ntohl(coap::device_address(config_.address_index).addr.sin.sin_addr.s_addr);
}

std::optional<Exit> QemuDevice::stop_process() {
  reactor_.cancel(exit_poll_timer_);
  exit_poll_timer_ = 0;
  if (!proc_) return std::nullopt;
  Exit exit = proc_->stop();  // reaps; SIGKILL first if it still runs
  if (uart_open_) {
    reactor_.unwatch(proc_->uart_fd());
    uart_->on_readable();  // the lines still in the socket
    uart_open_ = false;
  }
  reactor_.unwatch(proc_->eth_fd());
  if (pid_fd_ >= 0) {
    reactor_.unwatch(pid_fd_);
    ::close(pid_fd_);
    pid_fd_ = -1;
  }
  flows_.clear();  // and their radio paths
  bridge_.reset();
  uart_.reset();
  proc_.reset();
  powered_.store(false, std::memory_order_release);
  return exit;
}

void QemuDevice::on_exited() {
  if (!proc_) return;
  auto exit = stop_process();
  if (!exit) return;
  std::string what = exit->describe();
  bool cut = exit->exited() && exit->code == kExitPowerCut;
  if (cut) what += " (power cut at the armed flash operation)";
  bool qemu_failed = exit->exited() ? exit->code == 1 : exit->signal != SIGKILL;
  if (qemu_failed) {
    std::string said = qemu_complaint(config_.work_dir);
    what += " (QEMU failed" + (said.empty() ? std::string() : ": " + said) + "; " +
            config_.work_dir + "/qemu.log)";
  }
  record("qemu_exit", what);
  if (exit->exited() && exit->code == kExitStoreUnusable && cut_pending_) ++torn_configs_;
  cut_pending_ = false;
  if (cut) {
    ++power_cuts_;
    cut_pending_ = true;
    schedule_restart();
  }
  on_change_();
}

void QemuDevice::schedule_restart() {
  reactor_.cancel(restart_timer_);
  restart_timer_ = 0;
  if (config_.reboot_after_power_cut_ms < 0) return;
  restart_timer_ = reactor_.at(now() + config_.reboot_after_power_cut_ms, [this] {
    restart_timer_ = 0;
    (void)start();  // a failed start is on the timeline
  });
}

Status QemuDevice::reboot() {
  reactor_.cancel(restart_timer_);
  restart_timer_ = 0;
  if (proc_) {
    auto exit = stop_process();
    record("reboot", "QEMU stopped (" + (exit ? exit->describe() : std::string("not running")) +
                         "); RAM lost, booting from the flash file");
  } else {
    record("reboot", "booting from the flash file");
  }
  on_change_();
  return start();
}

void QemuDevice::power_cut() {
  if (!proc_) {
    record("power_cut", "already off");
    return;
  }
  auto exit = stop_process();
  ++power_cuts_;
  cut_pending_ = true;
  record("power_cut", "QEMU killed (" + (exit ? exit->describe() : std::string("?")) +
                          "): RAM lost; flash file as it was at the cut");
  schedule_restart();
  on_change_();
}

void QemuDevice::arm_power_cut(uint64_t op, std::optional<uint32_t> byte) {
  armed_cut_ = std::make_pair(op, byte);
  record("power_cut_armed", "at flash operation " + std::to_string(op) +
                                (byte ? " byte " + std::to_string(*byte) : std::string()) +
                                " of the image's next boot");
}

Result<std::vector<uint8_t>> QemuDevice::flash_image() const {
  std::string path = flash_path();
  if (path.empty())
    return Error{
        ErrorCode::kUnsupported,
        config_.boot.client.endpoint + ": this QEMU device keeps its flash in RAM (no flash file)"};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error{ErrorCode::kIo,
                 config_.boot.client.endpoint + ": flash file " + path + ": " +
                     std::strerror(errno) +
                     (errno == ENOENT ? " (the image creates it at its first boot)" : "")};
  std::vector<uint8_t> image(config_.flash_geometry.size);
  size_t got = 0;
  while (got < image.size()) {
    ssize_t n = ::read(fd, image.data() + got, image.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  uint8_t extra;
  bool longer = ::read(fd, &extra, 1) == 1;
  ::close(fd);
  if (got != image.size() || longer)
    return Error{ErrorCode::kInvalidArgument, config_.boot.client.endpoint + ": flash file " +
                                                  path + " is not " + std::to_string(image.size()) +
                                                  " bytes (the geometry given to the image)"};
  return image;
}

Result<flash::StoreView> QemuDevice::flash_store() const {
  HIL_TRY_ASSIGN(auto image, flash_image());
  flash::NorFlashOptions o;
  o.geometry = config_.flash_geometry;
  flash::NorFlash chip(o);
  HIL_TRY(chip.load_image(image.data(), image.size()));
  flash::ConfigStore store(chip);
  return store.inspect();
}

}  // namespace hil::qemu
