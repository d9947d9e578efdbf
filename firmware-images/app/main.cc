// The image: the LwM2M client core (emulator/lwm2m) on libcoap's core, on
// lwIP, on the board's Ethernet; its configuration in the same flash store
// as the emulator's native devices (emulator/flash), mirrored to the host
// through semihosting; its timeline on the UART.
//
// The wiring follows emulator/device/device.cc: the factory configuration
// (lwm2m::factory_tree, shared), the store's boot and commit, "commit before answering" (a
// consistent Finish reaches flash before its 2.04 leaves), a watchdog per exchange, and the
// bootstrap session kept for MAX_TRANSMIT_SPAN after bootstrap so a retransmitted Finish still gets
// its answer.
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "args.h"
#include "board.h"
#include "coap_io_fw.h"
#include "emulator/coap/pdu.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/lwm2m/codec/tree.h"
#include "exit_codes.h"
#include "log.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "netif_lan9118.h"
#include "storage.h"
#include "transport.h"

extern "C" size_t heap_used_bytes(void);
extern "C" size_t heap_size_bytes(void);

namespace {

uint64_t g_rand_state = 0x853c49e6748fea9bULL;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

// lwIP's LWIP_RAND (UDP source ports, and through libcoap's coap_prng
// message ids): splitmix64, seeded per boot from the seed argument, the
// endpoint, the boot counter in flash and the host's time, so a rebooted
// device does not reuse the message ids and port of its previous life.
extern "C" unsigned long fw_rand(void) {
  g_rand_state += 0x9e3779b97f4a7c15ULL;
  return static_cast<unsigned long>(mix(g_rand_state));
}

extern "C" u32_t sys_now(void) { return static_cast<u32_t>(board_now_ms()); }

namespace fw {
namespace {

using hil::Event;
using hil::lwm2m::BootstrapExit;
using hil::lwm2m::State;

std::string ip_string(uint32_t a) {
  return std::to_string(a & 0xFF) + "." + std::to_string((a >> 8) & 0xFF) + "." +
         std::to_string((a >> 16) & 0xFF) + "." + std::to_string(a >> 24);
}

unsigned long datagrams_out, datagrams_in;

void count_out(coap_session_t*, size_t) { ++datagrams_out; }
void count_in(coap_session_t*, size_t) { ++datagrams_in; }

class Firmware final : public Transport::Handler {
 public:
  [[noreturn]] void run(const Args& args);

  hil::lwm2m::Response on_request(hil::lwm2m::Origin from, const hil::lwm2m::Request& r) override;
  void on_response(uint64_t id, const hil::lwm2m::Response& r) override;
  void on_failure(uint64_t id, const std::string& reason) override;

 private:
  int64_t now() const { return static_cast<int64_t>(board_now_ms()); }
  void boot_storage(const Args& args);
  void start_network(const Args& args);
  void pump();
  void send(hil::lwm2m::SendRequest req);
  void commit(const hil::lwm2m::ObjectTree& config);
  void take_storage_events();
  [[noreturn]] void power_lost();
  void after_state_change(State from);
  void log_stats();
  int64_t next_deadline();
  void on_timers();

  std::unique_ptr<Storage> storage_;
  std::optional<hil::lwm2m::Client> core_;
  hil::lwm2m::ClientConfig client_config_;
  Transport transport_;
  struct netif netif_ {};
  bool commit_failed_ = false;
  State state_ = State::Factory;
  int64_t max_transmit_span_ms_ = 0;
  int64_t max_transmit_wait_ms_ = 0;
  std::map<uint64_t, int64_t> watchdogs_;  // request id -> deadline
  int64_t linger_until_ = -1;              // the bootstrap session closes then
  int64_t stats_every_ms_ = 0;
  int64_t next_stats_ = -1;
};

void Firmware::take_storage_events() {
  if (!storage_) return;
  int64_t t = now();
  for (const Event& e : storage_->config().take_events()) log_event(t, e.kind.c_str(), e.detail);
  if (!storage_->image_error().empty()) {
    log_event(t, "flash_image_error", storage_->image_error());
    board_exit(kExitFlashImage);
  }
}

void Firmware::power_lost() {
  take_storage_events();
  log_event("power_cut",
            "RAM lost; flash as it was at the cut (exit " + std::to_string(kExitPowerCut) + ")");
  board_exit(kExitPowerCut);
}

void Firmware::boot_storage(const Args& args) {
  hil::lwm2m::ObjectTree factory = hil::lwm2m::factory_tree(args.factory, args.client.endpoint);
  hil::lwm2m::ObjectTree stored = factory;
  stored.erase(hil::lwm2m::kDevice);  // the Device object is firmware, not configuration
  auto storage = Storage::open(args, stored);
  if (!storage) {
    log_event("boot_failed", storage.error().message);
    board_exit(kExitFlashImage);
  }
  storage_ = std::move(*storage);
  auto config = storage_->config().boot();
  if (config.is(hil::ErrorCode::kPowerLost)) power_lost();
  take_storage_events();
  if (!config) {
    log_event("boot_failed", config.error().message);
    board_exit(kExitBootFailed);
  }
  config->objects()[hil::lwm2m::kDevice] = std::move(factory.objects()[hil::lwm2m::kDevice]);
  uint32_t boots = storage_->config().store().boot_count();
  log_event("boot", "boot " + std::to_string(boots) + ", configuration from flash" +
                        (args.flash_path.empty() ? " (RAM only)" : " " + args.flash_path));
  g_rand_state ^= mix(args.seed) ^ fnv1a(args.client.endpoint) ^ mix(boots) ^
                  mix(static_cast<uint64_t>(sh_time()) << 20);
  client_config_ = args.client;
  stats_every_ms_ = args.stats_ms;
  if (stats_every_ms_ > 0) next_stats_ = stats_every_ms_;
  core_.emplace(client_config_, std::move(*config));
}

void Firmware::start_network(const Args& args) {
  lwip_init();
  ip4_addr_t ip, mask, gw;
  ip.addr = args.ip;
  mask.addr = args.netmask;
  gw.addr = args.gateway;
  if (netif_add(&netif_, &ip, &mask, &gw, nullptr, lan9118_netif_init, ethernet_input) == nullptr) {
    log_event("boot_failed", "no Ethernet chip answered (LAN9118 at 0x40200000)");
    board_exit(kExitNoNetwork);
  }
  netif_set_default(&netif_);
  netif_set_up(&netif_);
  netif_set_link_up(&netif_);
  char mac[18];
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 6; ++i) {
    mac[3 * i] = kHex[netif_.hwaddr[i] >> 4];
    mac[3 * i + 1] = kHex[netif_.hwaddr[i] & 0xF];
    mac[3 * i + 2] = i == 5 ? '\0' : ':';
  }
  log_event("net_up",
            "ip " + ip_string(args.ip) + " gw " + ip_string(args.gateway) + " mac " + mac);
  Timing timing{static_cast<uint32_t>(args.ack_timeout_ms), args.ack_random_factor,
                args.max_retransmit};
  max_transmit_span_ms_ = static_cast<int64_t>(
      args.ack_timeout_ms * (std::pow(2.0, args.max_retransmit) - 1) * args.ack_random_factor);
  max_transmit_wait_ms_ = static_cast<int64_t>(
      args.ack_timeout_ms * (std::pow(2.0, args.max_retransmit + 1) - 1) * args.ack_random_factor);
  coap_io_fw_set_hooks(count_out, count_in);
  if (!transport_.init(*this, timing, args.seed, args.coap_log)) {
    log_event("boot_failed", "libcoap has no memory for its context");
    board_exit(kExitFault);
  }
}

void Firmware::commit(const hil::lwm2m::ObjectTree& config) {
  uint64_t first_op = storage_->flash().ops();
  hil::Status st = storage_->config().commit(config);
  if (st.is(hil::ErrorCode::kPowerLost)) power_lost();
  take_storage_events();
  // Which flash operations the commit took: a power cut at one of them
  // (cut_op, counted from this boot) lands inside the commit.
  log_event("flash_commit",
            "ops " + std::to_string(first_op) + ".." + std::to_string(storage_->flash().ops()));
  if (!st) {
    // Not durable, so not acknowledged: on_request answers 5.00, and the
    // core stays in bootstrap.
    commit_failed_ = true;
    core_->commit_failed(now(), st.error().message);
  }
}

void Firmware::send(hil::lwm2m::SendRequest req) {
  std::string error;
  bool sent = transport_.send(req.to, req.request, req.id, &error);
  log_event("tx", hil::coap::describe(req.request) + (sent ? "" : " (not sent: " + error + ")"));
  if (!sent) {
    core_->on_failure(now(), req.id, error);
    return;
  }
  watchdogs_[req.id] = now() + max_transmit_wait_ms_ + 1000;
}

void Firmware::pump() {
  State before = state_;  // as of the last pump: the core may have moved since
  while (auto action = core_->poll()) {
    if (auto* s = std::get_if<hil::lwm2m::SendRequest>(&*action)) {
      send(std::move(*s));
    } else if (auto* e = std::get_if<Event>(&*action)) {
      log_event(e->time_ms, e->kind.c_str(), e->detail);
    } else if (auto* c = std::get_if<hil::lwm2m::Commit>(&*action)) {
      commit(c->config);
    }
  }
  state_ = core_->state();
  if (state_ != before) after_state_change(before);
}

void Firmware::after_state_change(State from) {
  if (state_ == State::Registered) log_stats();
  if (state_ == State::Bootstrapping) {
    linger_until_ = -1;
  } else if (from == State::Bootstrapping) {
    linger_until_ = now() + max_transmit_span_ms_;
  }
}

void Firmware::log_stats() {
  std::string s = "heap " + std::to_string(heap_used_bytes()) + " of " +
                  std::to_string(heap_size_bytes()) + " B; stack " +
                  std::to_string(board_stack_used()) + " of " + std::to_string(board_stack_size()) +
                  " B; lwip mem max " + std::to_string(lwip_stats.mem.max) + " of " +
                  std::to_string(MEM_SIZE) + " B; datagrams out " + std::to_string(datagrams_out) +
                  " in " + std::to_string(datagrams_in) + "; frames out " +
                  std::to_string(lan9118_frames_out) + " in " + std::to_string(lan9118_frames_in);
  log_event("stats", s);
}

hil::lwm2m::Response Firmware::on_request(hil::lwm2m::Origin from, const hil::lwm2m::Request& r) {
  log_event("rx", hil::coap::describe(r));
  commit_failed_ = false;  // a failed commit of an idle-timer exit is no answer's business
  hil::lwm2m::Response resp = core_->on_request(now(), from, r);
  // Commits reach flash before the answer leaves (durable before acknowledged).
  pump();
  if (commit_failed_) resp = hil::lwm2m::Response{hil::lwm2m::Code::InternalError, {}, {}, {}};
  log_event("tx", hil::lwm2m::to_string(resp.code));
  return resp;
}

void Firmware::on_response(uint64_t id, const hil::lwm2m::Response& r) {
  watchdogs_.erase(id);
  log_event("rx", hil::lwm2m::to_string(r.code));
  core_->on_response(now(), id, r);
  pump();
}

void Firmware::on_failure(uint64_t id, const std::string& reason) {
  watchdogs_.erase(id);
  log_event("tx_failed", reason);
  core_->on_failure(now(), id, reason);
  pump();
}

int64_t Firmware::next_deadline() {
  int64_t t = now();
  int64_t deadline = t + 60'000;  // wake at least once a minute
  if (auto d = core_->next_deadline()) deadline = std::min<int64_t>(deadline, *d);
  for (const auto& [id, at] : watchdogs_) deadline = std::min(deadline, at);
  if (linger_until_ >= 0) deadline = std::min(deadline, linger_until_);
  if (next_stats_ >= 0) deadline = std::min(deadline, next_stats_);
  u32_t lwip_sleep = sys_timeouts_sleeptime();
  if (lwip_sleep != SYS_TIMEOUTS_SLEEPTIME_INFINITE)
    deadline = std::min<int64_t>(deadline, t + lwip_sleep);
  return deadline;
}

void Firmware::on_timers() {
  int64_t t = now();
  if (auto d = core_->next_deadline(); d && *d <= t) {
    core_->on_timeout(t);
    pump();
  }
  // libcoap answers every CON by MAX_TRANSMIT_WAIT; if neither an answer
  // nor a give-up came, the core hears of a failure and moves on.
  for (auto it = watchdogs_.begin(); it != watchdogs_.end();) {
    if (it->second > t) {
      ++it;
      continue;
    }
    uint64_t id = it->first;
    it = watchdogs_.erase(it);
    log_event("transport_reset", "no answer and no give-up from libcoap by MAX_TRANSMIT_WAIT");
    core_->on_failure(t, id, "no answer (transport reset)");
    pump();
    it = watchdogs_.begin();
  }
  if (next_stats_ >= 0 && next_stats_ <= t) {
    next_stats_ = t + stats_every_ms_;
    log_stats();
  }
  if (linger_until_ >= 0 && linger_until_ <= t) {
    linger_until_ = -1;
    if (state_ != State::Bootstrapping) transport_.close_bootstrap_session();
  }
}

void Firmware::run(const Args& args) {
  boot_storage(args);
  start_network(args);
  core_->start(now());
  pump();
  for (;;) {
    board_eth_pending = 0;  // set again by the interrupt for frames after this
    lan9118_netif_poll(&netif_);
    sys_check_timeouts();  // lwIP's ARP and libcoap's retransmissions
    on_timers();
    board_sleep(static_cast<uint64_t>(next_deadline()), &board_eth_pending);
  }
}

Firmware g_firmware;  // static: the stack stays small, the size is known at link time

}  // namespace
}  // namespace fw

namespace fw {
namespace {

constexpr char kArgsFile[] = "args_file=";

// A host that pre-starts QEMU paused (emulator/qemu/qemu_pool.h) cannot
// change -append afterwards: it passes "args_file=PATH" alone and writes
// the arguments into that file before the image runs. Replaces `cmdline`
// with the file's text; false (and an event) when it cannot be read.
bool read_args_file(char* cmdline, size_t size) {
  const char* p = std::strstr(cmdline, kArgsFile);
  if (p == nullptr || (p != cmdline && p[-1] != ' ')) return true;
  std::string path(p + sizeof kArgsFile - 1);
  if (path.find(' ') != std::string::npos) path.resize(path.find(' '));
  int h = sh_open(path.c_str(), SH_OPEN_RB);
  int len = h < 0 ? -1 : sh_flen(h);
  bool ok = len >= 0 && static_cast<size_t>(len) < size && sh_read(h, cmdline, len) == 0;
  if (h >= 0) sh_close(h);
  if (!ok) {
    log_event("boot_failed", "args_file=" + path + ": cannot be read, or longer than " +
                                 std::to_string(size - 1) + " bytes");
    return false;
  }
  cmdline[len] = '\0';
  for (int i = 0; i < len; ++i)
    if (cmdline[i] == '\n') cmdline[i] = ' ';
  return true;
}

}  // namespace
}  // namespace fw

int main() {
  board_init();
  static char cmdline[1024];
  if (sh_get_cmdline(cmdline, sizeof cmdline - 1) != 0) {
    fw::log_event("boot_failed",
                  "no command line from semihosting (-semihosting-config enable=on)");
    board_exit(fw::kExitBadArguments);
  }
  if (!fw::read_args_file(cmdline, sizeof cmdline)) board_exit(fw::kExitBadArguments);
  std::string error;
#ifdef FW_BUILTIN_ARGS
  // Started without -append (the kernel's name alone): configured at build time.
  if (std::strchr(cmdline, '=') == nullptr) std::strcpy(cmdline, FW_BUILTIN_ARGS);
#endif
  auto args = fw::parse_args(cmdline, &error);
  if (!args) {
    fw::log_event("boot_failed", error);
    board_exit(fw::kExitBadArguments);
  }
  fw::g_firmware.run(*args);
}
