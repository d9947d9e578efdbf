// The emulator runtime: event-loop threads, the servers and the fleet of
// devices on them, and thread-safe handles to all of it. Everything the
// Python bindings need goes through this header.
#pragma once

#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/device/device.h"
#include "emulator/device/device_group.h"
#include "emulator/radio/egress.h"
#include "emulator/runtime/device_handle.h"
#include "emulator/runtime/loop.h"
#include "emulator/runtime/loop_exchange.h"
#include "emulator/server/bootstrap_server.h"
#include "emulator/server/registration_server.h"

namespace hil::runtime {

struct RuntimeOptions {
  uint64_t seed = 0;
  int threads = 2;                   // event-loop threads
  size_t devices_per_context = 100;  // sessions per libcoap context
  // Contexts behind each server's address; 0: 64 on the real clock, 128 on
  // the virtual one (each searches fewer sessions per datagram, and on the
  // virtual clock a fleet that starts at one instant keeps thousands of
  // CONs in flight at once), or half as many, and so on, as long as they
  // would not fit under RLIMIT_NOFILE. Each holds 4 descriptors.
  int server_contexts = 0;
  bool radio = true;  // every datagram through the emulated radio
  // The radios and the embedded servers hand each other their datagrams in
  // memory (base/switchboard.h, loop_exchange.h); false: through the
  // kernel, where a capture on lo sees them.
  bool in_process = true;
  // DTLS: handshakes the devices of one loop thread run at once, and that
  // each server context accepts at once (libcoap's default is 100).
  size_t device_handshakes = 64;
  unsigned server_handshakes = 256;
  // Virtual time (loop.h): one loop, driven by run_until() on the caller's
  // thread; the same seed and the same calls give the same run. `threads`
  // is ignored.
  bool virtual_time = false;
};

class Runtime;

// What a fleet is made from: the native client's configuration, or a
// firmware image's under QEMU.
using DeviceTemplate = std::variant<device::DeviceConfig, qemu::QemuDeviceConfig>;

// Handles may be used from any thread; reads are snapshots.
class BootstrapServerHandle {
 public:
  std::string uri() const { return uri_; }
  std::string secure_uri() const { return secure_uri_; }
  std::vector<server::EndpointResult> results() const;
  std::vector<Event> events() const;
  // What happened since the last call (BootstrapServerCore::take_log).
  server::ServerLog take_log() const;
  server::BootstrapCounters counters() const;
  void reconfigure(server::BootstrapConfig config);
  // Server-initiated bootstrap (server::BootstrapServer::start_session).
  Status start_session(const std::string& endpoint);

 private:
  friend class Runtime;
  BootstrapServerHandle(Loop* loop, server::BootstrapServer* s)
      : loop_(loop), server_(s), uri_(s->uri()), secure_uri_(s->secure_uri()) {}
  Loop* loop_;
  server::BootstrapServer* server_;
  std::string uri_, secure_uri_;
};

class RegistrationServerHandle {
 public:
  std::string uri() const { return uri_; }
  std::string secure_uri() const { return secure_uri_; }
  std::vector<server::Registration> registrations() const;
  std::vector<Event> events() const;
  std::pair<uint64_t, std::vector<Event>> events_since(uint64_t first) const;
  server::RegistrationCounters counters() const;
  // A request to a registered device. The answer (or the server's error
  // once its exchange gives up) arrives in the future; the caller waits in
  // real time or runs the virtual clock until it is ready.
  std::shared_future<Result<lwm2m::Response>> send_request(const std::string& endpoint,
                                                           const lwm2m::Request& r) const;
  // Observe and its cancel start at once and return the observation's tag;
  // what follows shows in observations() (RegistrationServer::observe).
  Result<uint64_t> observe(const std::string& endpoint, const lwm2m::Request& r) const;
  Result<uint64_t> cancel_observe(const std::string& endpoint, const std::string& path) const;
  std::vector<server::Observation> observations() const;

 private:
  friend class Runtime;
  RegistrationServerHandle(Loop* loop, server::RegistrationServer* s)
      : loop_(loop), server_(s), uri_(s->uri()), secure_uri_(s->secure_uri()) {}
  Loop* loop_;
  server::RegistrationServer* server_;
  std::string uri_, secure_uri_;
};

struct FleetSummary {
  size_t devices = 0;
  std::map<std::string, size_t> states;  // by state name
  std::map<std::string, size_t> exits;   // by last bootstrap exit
  std::vector<TimeMs> bootstrap_ms;      // of devices that left bootstrap
  size_t power_cuts = 0;                 // that fired, over all devices
  size_t torn_configs = 0;               // boots with neither old nor new: must be 0
  radio::DirectionCounters radio;        // all links, both directions
  size_t send_failed = 0;                // datagrams the radios could not send
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options);
  ~Runtime();
  // Stops every loop and frees every device, server and socket, now rather
  // than when the last reference goes; idempotent. Nothing else may be
  // called after it (the bindings refuse).
  void close();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // `listen` (coap://) and `secure_listen` (coaps://) are HOST:PORT; port
  // 0 picks a free one; an empty `secure_listen` is listen's host, port 0.
  // `profile` nullopt: each entry's, else the request's dialect. Errors:
  // kInvalidArgument (an address), kIo (cannot listen).
  Result<BootstrapServerHandle> add_bootstrap_server(server::BootstrapConfig config,
                                                     std::optional<lwm2m::Profile> profile,
                                                     coap::Timing timing, const std::string& listen,
                                                     const std::string& secure_listen = "",
                                                     server::BootstrapLimits limits = {},
                                                     std::optional<coap::Certificate> cert = {});
  // Endpoints that `psk` covers must register over DTLS (see PskTable).
  // Registration ids are random: seeded on the virtual clock (one seed,
  // one run), from the OS on the real one. Errors as add_bootstrap_server().
  // `cert`: the servers' own
  // certificate for certificate mode (set_certificate()).
  Result<RegistrationServerHandle> add_registration_server(
      coap::Timing timing, server::PskTable psk, const std::string& listen,
      const std::string& secure_listen = "", server::RegistrationLimits limits = {},
      std::optional<coap::Certificate> cert = {});
  // Creates `count` devices from a template; endpoints are `prefix` + index
  // (the template's endpoint alone when count is 1 and prefix is empty).
  // They start at once when `start` is set. QEMU devices run on the loops'
  // radios, each in tmpl.work_dir + "/" + its endpoint, with "{endpoint}"
  // in tmpl.flash_file replaced.
  // Errors: kResourceExhausted, the process may not open the descriptors
  // they need (RLIMIT_NOFILE); kUnsupported, QEMU devices on a runtime
  // without a radio.
  Result<std::vector<DeviceHandle>> add_devices(const DeviceTemplate& tmpl, size_t count,
                                                const std::string& prefix, bool start);
  // Boots devices created with start = false: one trip to each loop, not
  // one per device (a loop busy with the first devices' traffic answers
  // each trip late). The first device that cannot boot gives the error; it
  // and any other say why on their timelines.
  Status start_devices(const std::vector<DeviceHandle>& devices);
  // Pre-starts `count` paused QEMUs for `base` (qemu, machine, image; their
  // directories under base.work_dir) that QEMU devices with the same
  // qemu, machine and image take when they boot (qemu/qemu_pool.h), forked
  // from the first loop. close() kills those not taken. Errors:
  // kResourceExhausted (descriptors), QemuPool::add()'s.
  Status warm_qemu(const qemu::QemuConfig& base, size_t count);
  // Waits until the pre-started QEMUs have loaded their image, up to
  // `timeout_ms`; returns how many are ready (QemuPool::wait_ready()).
  Result<size_t> wait_qemu_ready(int timeout_ms) { return qemu_pool_.wait_ready(timeout_ms); }
  size_t qemu_pool_idle() const { return qemu_pool_.idle(); }

  // Blocks the caller until `pred` holds or `timeout_s` passes; `pred` runs
  // on the caller's thread and should read only thread-safe state. Real
  // time only: in virtual time nothing would move while it waits.
  bool wait(const std::function<bool()>& pred, double timeout_s);
  // Virtual time only: runs the emulator until `pred` (if any) holds after
  // an instant, or until `until_ms` on the virtual clock. `pred` runs on the
  // caller's thread, after each instant, so keep it cheap.
  bool run_until(const std::function<bool()>& pred, TimeMs until_ms);
  bool is_virtual() const { return options_.virtual_time; }
  // Capture every datagram of the run into a pcapng file; "" stops.
  // `comment` goes into the file's section header (how to decode it).
  // Errors: kUnsupported (no radio), kIo (the file).
  Status capture(const std::string& path, const std::string& comment = "");
  // Devices reach servers off loopback through the egress (radio/egress.h),
  // set up by the first call; later calls with the same prefix do nothing.
  Status open_egress(const std::string& prefix);
  FleetSummary summary() const;
  const Clock& clock() const { return *clock_; }
  uint64_t seed() const { return options_.seed; }
  size_t device_count() const;
  // CPU time each loop's thread has used, loop by loop (real time).
  std::vector<double> loop_cpu_seconds() const;
  // Native devices in each loop's device groups, loop by loop (placement.h).
  std::vector<size_t> devices_per_loop() const;

 private:
  struct GroupSlot {
    Loop* loop;
    std::unique_ptr<device::DeviceGroup> group;
    size_t devices = 0;
    size_t loop_index = 0;
  };
  struct Slot {
    Loop* loop;
    std::unique_ptr<device::VirtualDevice> device;
  };
  Result<std::vector<DeviceHandle>> add_native(const device::DeviceConfig& tmpl, size_t count,
                                               const std::string& prefix, bool start);
  Result<std::vector<DeviceHandle>> add_qemu(const qemu::QemuDeviceConfig& tmpl, size_t count,
                                             const std::string& prefix, bool start);
  void notify();
  // What a device on loop `index` calls when its state changed: wakes
  // wait() once when the loop's turn ends, however many changed in it.
  std::function<void()> on_change(size_t index);
  // `server_cost`: what a device of the fleet being added costs each loop
  // through the servers there (placement.h).
  GroupSlot& group_with_room(const std::vector<double>& server_cost);
  std::vector<double> server_cost_of(const device::DeviceConfig& tmpl) const;
  // What `count` more devices made from `tmpl` hold open (mu_ held).
  size_t descriptors_for(const device::DeviceConfig& tmpl, size_t count) const;
  radio::Radio* radio_of(const Loop* loop) const;
  device::HandshakeGate* gate_of(const Loop* loop) const;
  Loop& registration_loop() const;
  void serve(Loop& loop, coap::SteeredListener& listener);
  // options_.server_contexts, or the clock's default (halved until it fits); after reserving the
  // descriptors they hold (RLIMIT_NOFILE), or the error that says why not.
  Result<int> server_contexts(const std::string& server) const;
  // Virtual time: where a server's port-0 listeners draw their ports; 0 otherwise.
  uint64_t server_port_seed(const std::string& name) const;

  RuntimeOptions options_;
  RealClock real_clock_;
  VirtualClock virtual_clock_;
  const Clock* clock_;
  std::unique_ptr<LoopExchange> exchange_;  // outlives the loops whose boards it joins
  std::vector<std::unique_ptr<Loop>> loops_;
  bool closed_ = false;
  std::vector<std::unique_ptr<radio::Radio>> radios_;          // one per loop, if any
  std::unique_ptr<radio::Egress> egress_;                      // outlives the radios
  std::vector<std::unique_ptr<device::HandshakeGate>> gates_;  // one per loop
  std::vector<std::unique_ptr<server::BootstrapServer>> bootstrap_servers_;
  std::vector<std::unique_ptr<server::RegistrationServer>> registration_servers_;
  std::vector<GroupSlot> groups_;
  qemu::QemuPool qemu_pool_;   // outlives the devices that take from it
  std::vector<Slot> devices_;  // native and QEMU
  uint32_t addresses_ = 0;     // 127.1.x.y handed out
  mutable std::mutex mu_;      // guards groups_ and devices_
  // Separate from mu_: loop threads notify while mu_'s holder waits on them.
  std::mutex wait_mu_;
  std::condition_variable changed_;
  uint64_t version_ = 0;
  std::vector<char> notify_due_;  // per loop, its own thread's only

  std::vector<double> loop_load_;  // per loop, in devices (placement.h; mu_)
};

}  // namespace hil::runtime
