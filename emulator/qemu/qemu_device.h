// A device that runs a firmware image under QEMU, hosted on an event loop
// of the runtime: a device like a native one (emulator/device/device.h) as
// far as the servers, the radio and the tests can tell.
//
// - Network: the image's Ethernet frames (FrameBridge) become datagrams
//   that go through this device's own radio::Link on the loop's Radio
//   (faults, rules, capture), sent from the device's own 127.1.x.y. Each
//   flow (image port, server) has the radio path from the device to that
//   server; downlink comes back to the image through the bridge.
// - Timeline: the image's UART log ("EV" lines, stamped with the host's
//   clock on arrival), the radio's fault events, and the host's own
//   (qemu_start, qemu_exit, reboot, power_cut). State and bootstrap exit
//   come from its "state" and "bootstrap_exit" events, from what it sends
//   and receives (WireState), or from both, checked against each other.
// - Flash: the image writes its flash through semihosting to a file in its
//   working directory; flash_image() and flash_store() read that file and
//   decode it with the same code as native devices.
// - Power: reboot() restarts QEMU on the same flash file; power_cut()
//   kills QEMU (between two flash operations) and restarts it after
//   reboot_after_power_cut_ms; arm_power_cut() passes cut_op/cut_byte to
//   the image at its next boot, where its own flash model tears the write
//   and it exits with code 3 (then it restarts as after power_cut()).
//
// Lives on one loop thread; state(), last_exit(), powered() from any.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/reactor.h"
#include "emulator/device/virtual_device.h"
#include "emulator/flash/config_store.h"
#include "emulator/flash/nor_flash.h"
#include "emulator/lwm2m/client/boot_words.h"
#include "emulator/qemu/frame_bridge.h"
#include "emulator/qemu/qemu_pool.h"
#include "emulator/qemu/qemu_process.h"
#include "emulator/qemu/uart_log.h"
#include "emulator/qemu/wire_state.h"
#include "emulator/radio/radio.h"

namespace hil::qemu {

// Where state and bootstrap exits come from. kBoth takes the UART's once the
// image has printed a state or exit line since its boot, the wire's until
// then (an image that prints none runs on the wire), and records every
// disagreement between the two.
enum class StateSource { kUart, kWire, kBoth };

struct QemuDeviceConfig {
  // The client's words: ep=, bs= (coap://a.b.c.d:port), its timers,
  // retries and CoAP timing (lwm2m/client/boot_words.h).
  lwm2m::BootConfig boot;
  std::string image;  // the firmware ELF
  std::string qemu = "qemu-system-arm";
  std::string machine = "mps2-an385";
  std::string work_dir;  // this device's own; created; QEMU runs there
  // The flash image file (flash=), relative to work_dir or absolute; empty:
  // the image keeps its flash in RAM and a restart starts from the factory.
  std::string flash_file = "flash.bin";
  flash::Geometry flash_geometry{8 * 1024, 4 * 1024, 256};
  flash::ViolationPolicy on_violation = flash::ViolationPolicy::kAnd;  // flash_violation=
  uint32_t endurance = 100000;                                         // flash_endurance=
  uint64_t seed = 1;                                                   // seed= and flash_seed=
  // More firmware arguments, key=value (firmware-images/README.md, "-append").
  std::vector<std::string> args;
  // False: no -append at all, for an image configured at build time (the
  // words, seeds, flash and args above are then not passed).
  bool append = true;
  StateSource state_source = StateSource::kBoth;
  // Destinations the image has built in, and the host's server each one
  // stands for: the image's datagrams to `image` go to `host`, and answers
  // reach the image from `image`.
  std::vector<std::pair<Ipv4SocketAddress, Ipv4SocketAddress>> server_map;
  int64_t reboot_after_power_cut_ms = 100;  // -1: stay off until reboot()
  bool record_messages = true;              // keep the image's tx/rx events
  uint32_t address_index = 0;               // its own 127.1.x.y
  radio::LinkConfig link;
  uint64_t link_seed = 0;
  // Each boot takes a paused QEMU from here when one matches (else starts
  // one); not owned, outlives the device.
  QemuPool* pool = nullptr;
};

// Exit codes of the image (firmware-images/app/exit_codes.h).
constexpr int kExitPowerCut = 3;
constexpr int kExitStoreUnusable = 5;

class QemuDevice : public device::VirtualDevice {
 public:
  // `on_change` runs on the loop thread after the state, the exit or the
  // power changed.
  QemuDevice(QemuDeviceConfig config, Reactor& reactor, radio::Radio& radio,
             std::function<void()> on_change);
  ~QemuDevice() override;  // kills QEMU
  QemuDevice(const QemuDevice&) = delete;
  QemuDevice& operator=(const QemuDevice&) = delete;

  // Starts QEMU. Errors: kFailedPrecondition (already running),
  // QemuProcess::start()'s (also on the timeline as boot_failed).
  Status start() override;
  // Kills QEMU if it runs and starts it again on the same flash file.
  Status reboot() override;
  // Kills QEMU now; it starts again after reboot_after_power_cut_ms.
  void power_cut() override;
  // The image's next boot (start, reboot, restart after a cut) gets
  // cut_op=`op` [cut_byte=`byte`]: operations count from 0 at that boot.
  void arm_power_cut(uint64_t op, std::optional<uint32_t> byte);

  // Any thread.
  lwm2m::State state() const override { return state_.load(std::memory_order_acquire); }
  lwm2m::BootstrapExit last_exit() const override { return exit_.load(std::memory_order_acquire); }
  bool powered() const override { return powered_.load(std::memory_order_acquire); }
  const std::string& endpoint() const override { return config_.boot.client.endpoint; }
  const std::string& work_dir() const { return config_.work_dir; }
  // The flash file's absolute path; empty without one.
  std::string flash_path() const;
  // Read from the file as it is now. Errors: kUnsupported (no flash file),
  // kIo (not written yet), kInvalidArgument (a size other than the
  // geometry's).
  Result<std::vector<uint8_t>> flash_image() const override;
  Result<flash::StoreView> flash_store() const override;

  // Loop thread.
  const std::vector<Event>& timeline() const override { return timeline_; }
  std::map<std::string, int> exit_counts() const override { return exit_counts_; }
  TimeMs bootstrap_duration_ms() const override { return bootstrap_ms_; }
  int power_cuts() const override { return power_cuts_; }
  // Boots after a power cut that found the store unusable (exit 5): the
  // store promises 0. (The image decides what it boots with; the host
  // cannot compare payloads as it does for native devices.)
  int torn_configs() const override { return torn_configs_; }
  std::string address() const override;
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  radio::Link& link() override { return link_; }
  // Capture this device's datagrams; null stops it.
  void set_capture(std::shared_ptr<radio::Capture> capture) override {
    capture_ = std::move(capture);
  }
  const BridgeCounters* bridge_counters() const { return bridge_ ? &bridge_->counters() : nullptr; }
  // Exits on which the UART and the wire disagreed (StateSource::kBoth).
  int source_disagreements() const { return disagreements_; }

 private:
  struct Flow {
    Ipv4SocketAddress image;             // the image's address and port
    Ipv4SocketAddress server;            // as the host sees it
    std::unique_ptr<DatagramPort> path;  // on the radio
  };

  // `absolute_flash`: a pooled QEMU runs in the pool's directory, not ours.
  std::vector<std::string> boot_args(bool absolute_flash) const;
  // A pooled QEMU resumed with `qc`'s arguments, or null (why on the timeline).
  std::unique_ptr<QemuProcess> resume_pooled(const QemuConfig& qc);
  void on_uart();
  void arm_exit_poll();
  void on_exited();
  void on_datagram(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                   std::vector<uint8_t> payload);
  void on_event(Event e);
  void on_wire(std::optional<WireChange> change);
  void set_state(lwm2m::State s);
  void count_exit(lwm2m::BootstrapExit x, TimeMs at);
  // One more exit from `source`; compares it with the other source's.
  void check_exit(ExitCheck::Source source, lwm2m::BootstrapExit x);
  bool wire_decides() const;
  Ipv4SocketAddress host_side(const Ipv4SocketAddress& image_dst) const;
  // Kills QEMU (if it runs), reads what its UART still holds, closes its
  // flows; returns how it ended.
  std::optional<Exit> stop_process();
  void schedule_restart();
  void record(std::string kind, std::string detail);
  TimeMs now() const { return reactor_.clock().now_ms(); }
  uint32_t device_ip() const;  // 127.1.x.y, host order

  QemuDeviceConfig config_;
  Reactor& reactor_;
  radio::Radio& radio_;
  std::function<void()> on_change_;
  radio::Link link_;
  std::shared_ptr<radio::Capture> capture_;

  std::unique_ptr<QemuProcess> proc_;
  std::unique_ptr<UartLog> uart_;
  std::unique_ptr<FrameBridge> bridge_;
  int pid_fd_ = -1;
  bool uart_open_ = false;
  Timers::Id exit_poll_timer_ = 0;  // without pidfd_open: poll for the exit
  std::vector<Flow> flows_;

  std::optional<std::pair<uint64_t, std::optional<uint32_t>>> armed_cut_;
  Timers::Id restart_timer_ = 0;
  int power_cuts_ = 0;
  int torn_configs_ = 0;
  bool cut_pending_ = false;  // a power cut happened; the next boot follows it
  std::vector<Event> timeline_;
  WireState wire_;
  bool uart_spoke_ = false;  // a state or exit line since this boot
  ExitCheck exit_check_;     // this boot's
  int disagreements_ = 0;
  std::map<std::string, int> exit_counts_;
  TimeMs first_request_ms_ = -1;
  TimeMs bootstrap_ms_ = -1;
  std::atomic<lwm2m::State> state_{lwm2m::State::Factory};
  std::atomic<lwm2m::BootstrapExit> exit_{lwm2m::BootstrapExit::None};
  std::atomic<bool> powered_{false};
};

}  // namespace hil::qemu
