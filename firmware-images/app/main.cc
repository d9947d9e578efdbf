// The image: the LwM2M client core (emulator/lwm2m) on libcoap's core, on
// lwIP, on the board's Ethernet; its configuration in the same flash store
// as the emulator's native devices (emulator/flash), mirrored to the host
// through semihosting; its timeline on the UART.
//
// The core runs in the same lwm2m::Driver as native devices (durable before
// acknowledged, a watchdog per exchange, the bootstrap session's linger);
// this file is what is the image's own: its boot, lwIP, the UART timeline,
// its timers and its stats.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "args.h"
#include "board.h"
#include "board_timers.h"
#include "coap_io_fw.h"
#include "emulator/lwm2m/client/factory.h"
#include "emulator/lwm2m/driver/driver.h"
#include "emulator/storage/storage.h"
#include "exit_codes.h"
#include "flash_file.h"
#include "log.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "netif_lan9118.h"
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
using hil::lwm2m::State;

std::string ip_string(uint32_t a) {
  return std::to_string(a & 0xFF) + "." + std::to_string((a >> 8) & 0xFF) + "." +
         std::to_string((a >> 16) & 0xFF) + "." + std::to_string(a >> 24);
}

unsigned long datagrams_out, datagrams_in;

void count_out(coap_session_t*, size_t) { ++datagrams_out; }
void count_in(coap_session_t*, size_t) { ++datagrams_in; }

hil::storage::FlashConfig flash_config(const Args& args) {
  hil::storage::FlashConfig f;
  f.geometry = args.geometry;
  f.on_violation = args.on_violation;
  f.endurance = args.endurance;
  f.image_path = args.flash_path;
  f.seed = args.flash_seed;
  return f;
}

hil::coap::Timing timing(const Args& args) {
  return hil::coap::Timing{args.ack_timeout_ms, args.ack_random_factor, args.max_retransmit};
}

hil::lwm2m::DriverConfig driver_config(const Args& args) {
  hil::lwm2m::DriverConfig d;
  d.max_transmit_wait_ms = timing(args).max_transmit_wait_ms();
  d.bootstrap_linger_ms = timing(args).max_transmit_span_ms();
  return d;
}

class Firmware final : private hil::lwm2m::Store, private hil::lwm2m::Driver::Listener {
 public:
  [[noreturn]] void run(const Args& args);

 private:
  int64_t now() const { return static_cast<int64_t>(board_now_ms()); }
  hil::lwm2m::ObjectTree boot_storage(const Args& args);
  void start_network(const Args& args);
  void take_storage_events();
  [[noreturn]] void power_lost();
  void log_stats();
  void schedule_stats();
  int64_t next_deadline();

  // lwm2m::Store
  hil::Status commit(const hil::lwm2m::ObjectTree& config) override;
  // lwm2m::Driver::Listener
  void on_event(Event e) override { log_event(e.time_ms, e.kind.c_str(), e.detail); }
  void on_change(State) override {
    if (driver_->state() == State::Registered) log_stats();
  }
  void on_power_lost() override { power_lost(); }

  std::unique_ptr<hil::storage::Storage> storage_;
  BoardTimers timers_;
  Transport transport_;
  std::optional<hil::lwm2m::Driver> driver_;
  struct netif netif_ {};
  int64_t stats_every_ms_ = 0;
};

void Firmware::take_storage_events() {
  if (!storage_) return;
  int64_t t = now();
  for (const Event& e : storage_->take_events()) log_event(t, e.kind.c_str(), e.detail);
  if (!flash_file_error().empty()) {
    log_event(t, "flash_image_error", flash_file_error());
    board_exit(kExitFlashImage);
  }
}

void Firmware::power_lost() {
  take_storage_events();
  log_event("power_cut",
            "RAM lost; flash as it was at the cut (exit " + std::to_string(kExitPowerCut) + ")");
  board_exit(kExitPowerCut);
}

// The configuration to boot with, from the flash (the factory's on a blank
// chip), with the Device object as built in.
hil::lwm2m::ObjectTree Firmware::boot_storage(const Args& args) {
  hil::lwm2m::ObjectTree factory = hil::lwm2m::factory_tree(args.factory, args.client.endpoint);
  hil::lwm2m::ObjectTree stored = factory;
  stored.erase(hil::lwm2m::kDevice);  // the Device object is firmware, not configuration
  auto storage = hil::storage::Storage::open(flash_config(args), stored, open_flash_file);
  if (!storage) {
    log_event("boot_failed", storage.error().message);
    board_exit(kExitFlashImage);
  }
  storage_ = std::move(*storage);
  if (args.cut_op) storage_->flash().arm_power_cut(*args.cut_op, args.cut_byte);
  auto config = storage_->boot();
  if (config.is(hil::ErrorCode::kPowerLost)) power_lost();
  take_storage_events();
  if (!config) {
    log_event("boot_failed", config.error().message);
    board_exit(kExitBootFailed);
  }
  config->objects()[hil::lwm2m::kDevice] = std::move(factory.objects()[hil::lwm2m::kDevice]);
  uint32_t boots = storage_->store().boot_count();
  log_event("boot", "boot " + std::to_string(boots) + ", configuration from flash" +
                        (args.flash_path.empty() ? " (RAM only)" : " " + args.flash_path));
  g_rand_state ^= mix(args.seed) ^ fnv1a(args.client.endpoint) ^ mix(boots) ^
                  mix(static_cast<uint64_t>(sh_time()) << 20);
  return std::move(*config);
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
  coap_io_fw_set_hooks(count_out, count_in);
  if (!transport_.init(*driver_, timing(args), args.seed, args.coap_log)) {
    log_event("boot_failed", "libcoap has no memory for its context");
    board_exit(kExitFault);
  }
}

hil::Status Firmware::commit(const hil::lwm2m::ObjectTree& config) {
  uint64_t first_op = storage_->flash().ops();
  hil::Status st = storage_->commit(config);
  if (st.is(hil::ErrorCode::kPowerLost)) return st;  // on_power_lost() tells the rest
  take_storage_events();
  // Which flash operations the commit took: a power cut at one of them
  // (cut_op, counted from this boot) lands inside the commit.
  log_event("flash_commit",
            "ops " + std::to_string(first_op) + ".." + std::to_string(storage_->flash().ops()));
  return st;
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

void Firmware::schedule_stats() {
  if (stats_every_ms_ <= 0) return;
  timers_.at(now() + stats_every_ms_, [this] {
    log_stats();
    schedule_stats();
  });
}

int64_t Firmware::next_deadline() {
  int64_t t = now();
  int64_t deadline = timers_.next(t + 60'000);  // wake at least once a minute
  u32_t lwip_sleep = sys_timeouts_sleeptime();
  if (lwip_sleep != SYS_TIMEOUTS_SLEEPTIME_INFINITE)
    deadline = std::min<int64_t>(deadline, t + lwip_sleep);
  return deadline;
}

void Firmware::run(const Args& args) {
  hil::lwm2m::ObjectTree config = boot_storage(args);
  hil::lwm2m::Store& store = *this;
  hil::lwm2m::Driver::Listener& listener = *this;
  driver_.emplace(args.client, driver_config(args), timers_, transport_, store, listener);
  start_network(args);
  stats_every_ms_ = args.stats_ms;
  schedule_stats();
  driver_->start(std::move(config));
  for (;;) {
    board_eth_pending = 0;  // set again by the interrupt for frames after this
    lan9118_netif_poll(&netif_);
    sys_check_timeouts();  // lwIP's ARP and libcoap's retransmissions
    timers_.run_due();     // the core's deadline, watchdogs, the linger, stats
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
