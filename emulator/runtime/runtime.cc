#include "emulator/runtime/runtime.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include "emulator/base/ipv4.h"
#include "emulator/coap/address.h"
#include "emulator/lwm2m/client/factory.h"
#include "emulator/runtime/descriptors.h"
#include "emulator/runtime/placement.h"

namespace hil::runtime {
namespace {

// Runtime::wait spends at most 1 part in this many of its time checking.
constexpr int kWaitCheckRatio = 10;

// RuntimeOptions::server_contexts when it is 0.
constexpr int kRealServerContexts = 64;
constexpr int kVirtualServerContexts = 128;

// A device's seed depends on the runtime's seed and its own name only, so
// adding a device never changes what another one does.
uint64_t mix(uint64_t seed, const std::string& name) {
  return seed * 0x9e3779b97f4a7c15ULL ^ std::hash<std::string>{}(name);
}

}  // namespace

// --- handles ----------------------------------------------------------------

std::vector<server::EndpointResult> BootstrapServerHandle::results() const {
  return loop_->call([&] {
    std::vector<server::EndpointResult> out;
    for (const auto& [ep, r] : server_->core().results()) out.push_back(r);
    return out;
  });
}

std::vector<Event> BootstrapServerHandle::events() const {
  return loop_->call([&] { return server_->core().events(); });
}

server::ServerLog BootstrapServerHandle::take_log() const {
  return loop_->call([&] { return server_->core().take_log(loop_->clock().now_ms()); });
}

server::BootstrapCounters BootstrapServerHandle::counters() const {
  return loop_->call([&] { return server_->core().counters(); });
}

void BootstrapServerHandle::reconfigure(server::BootstrapConfig config) {
  loop_->call([&] { server_->reconfigure(std::move(config)); });
}

Status BootstrapServerHandle::start_session(const std::string& endpoint) {
  return loop_->call([&] { return server_->start_session(endpoint); });
}

std::vector<server::Registration> RegistrationServerHandle::registrations() const {
  return loop_->call([&] { return server_->core().registrations(); });
}

std::shared_future<Result<lwm2m::Response>> RegistrationServerHandle::send_request(
    const std::string& endpoint, const lwm2m::Request& r) const {
  // Shared: an answer after the caller gave up still has a promise to keep.
  auto answer = std::make_shared<std::promise<Result<lwm2m::Response>>>();
  std::shared_future<Result<lwm2m::Response>> future = answer->get_future().share();
  server::RegistrationServer* s = server_;
  loop_->post([s, endpoint, r, answer] {
    s->request(endpoint, r,
               [answer](Result<lwm2m::Response> got) { answer->set_value(std::move(got)); });
  });
  return future;
}

Result<uint64_t> RegistrationServerHandle::observe(const std::string& endpoint,
                                                   const lwm2m::Request& r) const {
  return loop_->call([&] { return server_->observe(endpoint, r); });
}

Result<uint64_t> RegistrationServerHandle::cancel_observe(const std::string& endpoint,
                                                          const std::string& path) const {
  return loop_->call([&] { return server_->cancel_observe(endpoint, path); });
}

std::vector<server::Observation> RegistrationServerHandle::observations() const {
  return loop_->call([&] { return server_->observations().all(); });
}

std::vector<Event> RegistrationServerHandle::events() const {
  return loop_->call([&] { return server_->core().events(); });
}

std::pair<uint64_t, std::vector<Event>> RegistrationServerHandle::events_since(
    uint64_t first) const {
  return loop_->call([&] { return server_->core().events_since(first); });
}

server::RegistrationCounters RegistrationServerHandle::counters() const {
  return loop_->call([&] { return server_->core().counters(); });
}

// --- runtime ----------------------------------------------------------------

Runtime::Runtime(RuntimeOptions options)
    : options_(options),
      clock_(options.virtual_time ? static_cast<const Clock*>(&virtual_clock_) : &real_clock_) {
  coap::init_library();
  int threads = options_.threads < 1 || options_.virtual_time ? 1 : options_.threads;
  for (int i = 0; i < threads; ++i) {
    if (options_.virtual_time) {
      loops_.push_back(std::make_unique<Loop>(virtual_clock_, mix(options_.seed, "libcoap")));
    } else {
      loops_.push_back(std::make_unique<Loop>(real_clock_));
    }
    loops_.back()->start();
    notify_due_.push_back(0);
    gates_.push_back(std::make_unique<device::HandshakeGate>(options_.device_handshakes));
  }
  if (!options_.radio) return;
  if (options_.in_process && loops_.size() > 1) exchange_ = std::make_unique<LoopExchange>(loops_);
  for (auto& l : loops_) {
    Loop* loop = l.get();
    uint64_t port_seed = options_.virtual_time ? mix(options_.seed, "radio ports") | 1 : 0;
    auto radio = loop->call([&] {
      auto r = radio::Radio::open(*loop, 4, port_seed);
      if (r && options_.in_process) (*r)->switch_through(loop->switchboard());
      return r;
    });
    if (!radio) throw std::runtime_error(radio.error().message);
    radios_.push_back(std::move(*radio));
  }
}

Runtime::~Runtime() { close(); }

void Runtime::close() {
  if (closed_) return;
  closed_ = true;
  // Each object dies on the thread that owns its libcoap context.
  for (auto& slot : devices_) slot.loop->call([&] { slot.device.reset(); });
  qemu_pool_.clear();
  // The device groups before the radios: freeing a context frees the DTLS
  // sessions its queue still held, and each sends its close_notify through
  // the radio.
  for (auto& slot : groups_)
    slot.loop->call([&] {
      slot.loop->remove(slot.group->context());
      slot.group.reset();
    });
  for (size_t i = 0; i < radios_.size(); ++i) loops_[i]->call([&] { radios_[i].reset(); });
  loops_[0]->call([&] {
    for (auto& s : bootstrap_servers_)
      for (auto& c : s->listener().contexts()) loops_[0]->remove(*c);
    bootstrap_servers_.clear();
  });
  registration_loop().call([&] {
    for (auto& s : registration_servers_)
      for (auto& c : s->listener().contexts()) registration_loop().remove(*c);
    registration_servers_.clear();
  });
  for (auto& loop : loops_) loop->stop();
}

namespace {

struct ListenAddresses {
  coap_address_t plain, secure;
};

Result<ListenAddresses> listen_addresses(const std::string& listen,
                                         const std::string& secure_listen) {
  auto plain = coap::parse_host_port(listen);
  if (!plain) return plain.error().prefixed("listen: ");
  std::string secure_text = secure_listen;
  if (secure_text.empty()) secure_text = listen.substr(0, listen.rfind(':')) + ":0";
  auto secure = coap::parse_host_port(secure_text);
  if (!secure) return secure.error().prefixed("secure listen: ");
  return ListenAddresses{*plain, *secure};
}

// Virtual time: a server asked for any free port (0) gets one drawn from
// `seed` instead of the kernel's choice, so that its URI (which bootstrap
// writes into payloads and devices keep on their timelines) and its port in
// captures repeat run after run, in every process. A port that something
// else holds moves on to the next draw; after 32 draws the kernel picks.
// `listen` builds a fresh server on the addresses it is given each time.
Status listen_on_seeded_ports(const ListenAddresses& addrs, uint64_t seed,
                              const std::function<Status(const ListenAddresses&)>& listen) {
  const bool any_plain = coap_address_get_port(&addrs.plain) == 0;
  const bool any_secure = coap_address_get_port(&addrs.secure) == 0;
  auto draw = [&seed] { return draw_seeded_port(&seed); };
  for (int attempt = 0; seed != 0 && (any_plain || any_secure) && attempt < 32; ++attempt) {
    ListenAddresses a = addrs;
    if (any_plain) coap_address_set_port(&a.plain, draw());
    if (any_secure) coap_address_set_port(&a.secure, draw());
    if (listen(a)) return ok_status();
  }
  return listen(addrs);
}

}  // namespace

Result<int> Runtime::server_contexts(const std::string& server) const {
  const bool chosen = options_.server_contexts > 0;
  int contexts = chosen ? options_.server_contexts
                        : (options_.virtual_time ? kVirtualServerContexts : kRealServerContexts);
  while (true) {
    // A context listening on both ports: its descriptors and two sockets.
    Status room =
        reserve_descriptors(static_cast<size_t>(contexts) * (DescriptorCosts::kContext + 2),
                            "the " + server + "'s " + std::to_string(contexts) + " contexts");
    if (room) return contexts;
    // The default gives way to a tight descriptor limit; a number the
    // caller chose does not.
    if (chosen || contexts == 1)
      return Error{ErrorCode::kResourceExhausted,
                   room.error().message + "; or fewer contexts per server (server_contexts)"};
    contexts /= 2;
  }
}

uint64_t Runtime::server_port_seed(const std::string& name) const {
  return options_.virtual_time ? mix(options_.seed, name + " ports") | 1 : 0;
}

Result<BootstrapServerHandle> Runtime::add_bootstrap_server(
    server::BootstrapConfig config, std::optional<lwm2m::Profile> profile, coap::Timing timing,
    const std::string& listen, const std::string& secure_listen, server::BootstrapLimits limits,
    std::optional<coap::Certificate> cert) {
  HIL_TRY_ASSIGN(auto addrs, listen_addresses(listen, secure_listen));
  Loop& loop = *loops_[0];
  const std::string name = "bootstrap-server-" + std::to_string(bootstrap_servers_.size());
  HIL_TRY_ASSIGN(auto contexts, server_contexts("bootstrap server"));
  return loop.call([&]() -> Result<BootstrapServerHandle> {
    std::unique_ptr<server::BootstrapServer> s;
    HIL_TRY(listen_on_seeded_ports(addrs, server_port_seed(name), [&](const ListenAddresses& a) {
      s = std::make_unique<server::BootstrapServer>(config, profile, timing, loop,
                                                    mix(options_.seed, name), contexts, limits);
      if (cert) s->set_certificate(*cert);
      return s->listen(a.plain, a.secure, options_.server_handshakes);
    }));
    serve(loop, s->listener());
    BootstrapServerHandle h(&loop, s.get());
    bootstrap_servers_.push_back(std::move(s));
    return h;
  });
}

Result<RegistrationServerHandle> Runtime::add_registration_server(
    coap::Timing timing, server::PskTable psk, const std::string& listen,
    const std::string& secure_listen, server::RegistrationLimits limits,
    std::optional<coap::Certificate> cert) {
  HIL_TRY_ASSIGN(auto addrs, listen_addresses(listen, secure_listen));
  Loop& loop = registration_loop();
  const std::string name = "registration-server-" + std::to_string(registration_servers_.size());
  HIL_TRY_ASSIGN(auto contexts, server_contexts("registration server"));
  return loop.call([&]() -> Result<RegistrationServerHandle> {
    server::RegistrationServerCore::Random ids;  // empty: the OS's randomness
    if (options_.virtual_time) {
      ids = [rng = std::make_shared<std::mt19937_64>(mix(options_.seed, name + " ids"))] {
        return (*rng)();
      };
    }
    std::unique_ptr<server::RegistrationServer> s;
    HIL_TRY(listen_on_seeded_ports(addrs, server_port_seed(name), [&](const ListenAddresses& a) {
      s = std::make_unique<server::RegistrationServer>(timing, psk, loop, mix(options_.seed, name),
                                                       contexts, limits, ids);
      if (cert) s->set_certificate(*cert);
      return s->listen(a.plain, a.secure, options_.server_handshakes);
    }));
    serve(loop, s->listener());
    RegistrationServerHandle h(&loop, s.get());
    registration_servers_.push_back(std::move(s));
    return h;
  });
}

// On `loop`'s thread: the loop runs the listener's contexts, and, in
// process, its radio hands them their datagrams.
void Runtime::serve(Loop& loop, coap::SteeredListener& listener) {
  for (auto& c : listener.contexts()) loop.add(*c);
  if (options_.radio && options_.in_process) listener.attach(loop.switchboard());
}

// The bootstrap server works on the first loop, the registration server on
// the last: with DTLS, each server's side of the handshakes is as much work
// as all devices' sides together, and one loop cannot carry both servers.
Loop& Runtime::registration_loop() const { return *loops_.back(); }

std::vector<size_t> Runtime::devices_per_loop() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<size_t> devices(loops_.size(), 0);
  for (const auto& slot : groups_) devices[slot.loop_index] += slot.devices;
  return devices;
}

std::vector<double> Runtime::loop_cpu_seconds() const {
  std::vector<double> cpu;
  for (const auto& loop : loops_) cpu.push_back(loop->cpu_seconds());
  return cpu;
}

device::HandshakeGate* Runtime::gate_of(const Loop* loop) const {
  for (size_t i = 0; i < gates_.size(); ++i)
    if (loops_[i].get() == loop) return gates_[i].get();
  return nullptr;
}

radio::Radio* Runtime::radio_of(const Loop* loop) const {
  for (size_t i = 0; i < radios_.size(); ++i)
    if (loops_[i].get() == loop) return radios_[i].get();
  return nullptr;
}

Status Runtime::capture(const std::string& path, const std::string& comment) {
  std::shared_ptr<radio::Capture> c;
  if (!path.empty()) {
    if (radios_.empty())
      return Error{ErrorCode::kUnsupported, "capture: this emulator runs without a radio"};
    auto opened = radio::Capture::open(path, clock(), comment);
    if (!opened) return opened.error().prefixed("capture: ");
    c = *opened;
  }
  for (size_t i = 0; i < radios_.size(); ++i) loops_[i]->call([&] { radios_[i]->set_capture(c); });
  return ok_status();
}

Status Runtime::open_egress(const std::string& prefix) {
  if (radios_.empty())
    return Error{ErrorCode::kUnsupported,
                 "egress: this emulator runs without a radio (radio=True)"};
  if (egress_) {
    if (egress_->prefix().text == prefix) return ok_status();
    return Error{ErrorCode::kInvalidArgument, "egress_prefix: the egress is open with " +
                                                  egress_->prefix().text + ", cannot switch to " +
                                                  prefix};
  }
  HIL_TRY_ASSIGN(egress_, radio::Egress::open(prefix));
  uint32_t base = egress_->prefix().base;
  for (size_t i = 0; i < radios_.size(); ++i)
    loops_[i]->call([&] { radios_[i]->set_egress(base); });
  return ok_status();
}

Runtime::GroupSlot& Runtime::group_with_room(const std::vector<double>& server_cost) {
  if (groups_.empty() || groups_.back().devices >= options_.devices_per_context) {
    loop_load_.resize(loops_.size(), 0.0);
    size_t index = least_loaded_loop(loop_load_, server_cost, options_.devices_per_context);
    Loop* loop = loops_[index].get();
    // The salt keeps its old name, so that a seed gives the runs it gave.
    uint64_t seed = mix(options_.seed, "shard-" + std::to_string(groups_.size()));
    auto group = loop->call([&] {
      auto s = std::make_unique<device::DeviceGroup>(seed, radio_of(loop) != nullptr);
      loop->add(s->context());
      return s;
    });
    groups_.push_back(GroupSlot{loop, std::move(group), 0, index});
  }
  return groups_.back();
}

// The embedded servers a device made from `tmpl` will use: the bootstrap
// server its factory account names, then the registration server it
// learns from there (or the one its factory server account names).
std::vector<double> Runtime::server_cost_of(const device::DeviceConfig& tmpl) const {
  std::vector<double> cost(loops_.size(), 0.0);
  const ServerCosts costs;
  auto secure = [](const std::string& uri) { return uri.rfind("coaps", 0) == 0; };
  const std::string& bs_uri = tmpl.factory.bootstrap_uri;
  const std::string& dm_uri = bs_uri.empty() ? tmpl.factory.server_uri : bs_uri;
  for (const auto& bs : bootstrap_servers_) {
    if (bs_uri.empty() || (bs_uri != bs->uri() && bs_uri != bs->secure_uri())) continue;
    cost.front() += secure(bs_uri) ? costs.bootstrap_psk : costs.bootstrap_nosec;
    break;
  }
  bool via_bootstrap = !bs_uri.empty() && cost.front() > 0;
  for (const auto& rs : registration_servers_) {
    if (!via_bootstrap && dm_uri != rs->uri() && dm_uri != rs->secure_uri()) continue;
    cost.back() += secure(dm_uri) ? costs.registration_psk : costs.registration_nosec;
    break;
  }
  return cost;
}

size_t Runtime::descriptors_for(const device::DeviceConfig& tmpl, size_t count) const {
  size_t per_device = options_.radio ? 0 : DescriptorCosts::kSocketSessions;
  if (tmpl.flash && !tmpl.flash->image_path.empty()) per_device += DescriptorCosts::kFlashFile;
  size_t room = groups_.empty() ? 0 : options_.devices_per_context - groups_.back().devices;
  size_t groups = count <= room ? 0
                                : (count - room + options_.devices_per_context - 1) /
                                      options_.devices_per_context;
  return count * per_device + groups * DescriptorCosts::kContext;
}

Result<std::vector<DeviceHandle>> Runtime::add_devices(const DeviceTemplate& tmpl, size_t count,
                                                       const std::string& prefix, bool start) {
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto* native = std::get_if<device::DeviceConfig>(&tmpl))
    return add_native(*native, count, prefix, start);
  return add_qemu(std::get<qemu::QemuDeviceConfig>(tmpl), count, prefix, start);
}

Result<std::vector<DeviceHandle>> Runtime::add_native(const device::DeviceConfig& tmpl,
                                                      size_t count, const std::string& prefix,
                                                      bool start) {
  HIL_TRY(reserve_descriptors(descriptors_for(tmpl, count), std::to_string(count) + " devices"));
  // One trip to a loop thread per group, not per device, and the loops
  // make their groups' devices at the same time.
  struct Made {
    Loop* loop;
    std::future<std::vector<std::unique_ptr<device::Device>>> devices;
  };
  std::vector<Made> groups;
  size_t made = 0;
  const std::vector<double> server_cost = server_cost_of(tmpl);
  while (made < count) {
    GroupSlot& slot = group_with_room(server_cost);
    size_t batch = std::min(count - made, options_.devices_per_context - slot.devices);
    uint32_t first = addresses_;
    addresses_ += static_cast<uint32_t>(batch);
    Loop* loop = slot.loop;
    const size_t index = slot.loop_index;
    coap::Context& context = slot.group->context();
    groups.push_back(Made{
        loop, loop->submit([&, loop, index, batch, first, made] {
          std::vector<std::unique_ptr<device::Device>> out;
          for (size_t i = 0; i < batch; ++i) {
            device::DeviceConfig c = tmpl;
            if (count > 1 || !prefix.empty()) c.client.endpoint = prefix + std::to_string(made + i);
            c.client.seed = mix(options_.seed, c.client.endpoint);
            c.link_seed = mix(options_.seed, "link " + c.client.endpoint);
            c.address_index = first + static_cast<uint32_t>(i);
            if (c.flash) {
              c.flash->seed = c.client.seed ^ 0xf1a5f1a5ULL;
              c.flash->image_path = lwm2m::with_endpoint(c.flash->image_path, c.client.endpoint);
            }
            out.push_back(std::make_unique<device::Device>(c, context, *loop, radio_of(loop),
                                                           gate_of(loop), on_change(index)));
          }
          return out;
        })});
    slot.devices += batch;
    made += batch;
    add_load(loop_load_, server_cost, slot.loop_index, batch);
  }
  std::vector<DeviceHandle> handles;
  handles.reserve(count);
  for (Made& group : groups) {
    for (auto& d : group.devices.get()) {
      handles.push_back(DeviceHandle(group.loop, d.get()));
      devices_.push_back(Slot{group.loop, std::move(d)});
    }
  }
  // Started only once all exist: a loop busy with the first devices'
  // traffic would otherwise slow the creation of the rest.
  if (start && options_.virtual_time) {
    // Nothing runs until the loop is driven: boot them now, at this instant.
    loops_[0]->call([&] {
      for (const auto& h : handles) (void)h.device_->start();
    });
  } else if (start) {
    for (auto& loop : loops_) {
      loop->post([loop = loop.get(), handles] {
        // A device that cannot boot says why on its timeline.
        for (const auto& h : handles)
          if (h.loop_ == loop) (void)h.device_->start();
      });
    }
  }
  return handles;
}

Status Runtime::start_devices(const std::vector<DeviceHandle>& devices) {
  Status first = ok_status();
  for (auto& loop : loops_) {
    loop->call([&] {
      for (const auto& h : devices) {
        if (h.loop_ != loop.get()) continue;
        Status s = h.device_->start();
        if (!s && first) first = s;
      }
    });
  }
  return first;
}

Result<std::vector<DeviceHandle>> Runtime::add_qemu(const qemu::QemuDeviceConfig& tmpl,
                                                    size_t count, const std::string& prefix,
                                                    bool start) {
  if (radios_.empty())
    return Error{ErrorCode::kUnsupported,
                 "QEMU devices need the emulated radio (this runtime runs without one)"};
  HIL_TRY(reserve_descriptors(count * DescriptorCosts::kQemuDevice,
                              std::to_string(count) + " QEMU devices"));
  std::vector<DeviceHandle> handles;
  for (size_t i = 0; i < count; ++i) {
    const size_t index = devices_.size() % loops_.size();
    Loop* loop = loops_[index].get();
    qemu::QemuDeviceConfig c = tmpl;
    std::string& name = c.boot.client.endpoint;
    if (count > 1 || !prefix.empty()) name = prefix + std::to_string(i);
    c.seed = mix(options_.seed, name);
    c.link_seed = mix(options_.seed, "link " + name);
    c.address_index = addresses_++;
    c.work_dir = tmpl.work_dir + "/" + name;
    c.flash_file = lwm2m::with_endpoint(c.flash_file, name);
    c.pool = &qemu_pool_;
    radio::Radio* radio = radio_of(loop);
    auto d = loop->call([&] {
      return std::make_unique<qemu::QemuDevice>(std::move(c), *loop, *radio, on_change(index));
    });
    handles.push_back(DeviceHandle(loop, d.get()));
    devices_.push_back(Slot{loop, std::move(d)});
  }
  if (start) {
    // A device that cannot start says why on its timeline.
    for (const auto& h : handles) h.loop_->post([d = h.device_] { (void)d->start(); });
  }
  return handles;
}

Status Runtime::warm_qemu(const qemu::QemuConfig& base, size_t count) {
  // A paused QEMU holds its UART, Ethernet and QMP sockets.
  HIL_TRY(reserve_descriptors(count * 3, std::to_string(count) + " pre-started QEMUs"));
  // Forked from a loop thread, as devices' QEMUs are: PR_SET_PDEATHSIG
  // ties them to it, and it lives as long as the runtime.
  return loops_[0]->call([&] { return qemu_pool_.add(base, count); });
}

// A fleet changes state thousands of times a second; a wake-up per change
// cost the waiting thread a context switch each, and the loops a futex
// call. 10,000 devices took 2.0 to 2.4 CPU-s that way, 1.7 to 1.8 now.
std::function<void()> Runtime::on_change(size_t index) {
  return [this, index] {
    if (notify_due_[index]) return;
    notify_due_[index] = 1;
    Loop& loop = *loops_[index];
    loop.at(loop.clock().now_ms(), [this, index] {
      notify_due_[index] = 0;
      notify();
    });
  };
}

void Runtime::notify() {
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    ++version_;
  }
  changed_.notify_all();
}

bool Runtime::wait(const std::function<bool()>& pred, double timeout_s) {
  if (options_.virtual_time)
    throw std::logic_error("wait: this emulator runs on the virtual clock; use run_until");
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  std::unique_lock<std::mutex> lock(wait_mu_);
  while (true) {
    uint64_t seen = version_;
    lock.unlock();
    auto checked = std::chrono::steady_clock::now();
    if (pred()) return true;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // Re-check as soon as something changed, but keep the checks under
    // about a tenth of a core: a check that walks a fleet of 100,000
    // devices takes a millisecond, and the fleet changes state thousands
    // of times a second, while one device's check costs nanoseconds and
    // then a change is seen at once.
    auto next = std::min(deadline, now + (now - checked) * kWaitCheckRatio);
    lock.lock();
    changed_.wait_until(lock, deadline, [&] { return version_ != seen; });
    if (std::chrono::steady_clock::now() < next) {
      lock.unlock();
      std::this_thread::sleep_until(next);
      lock.lock();
    }
  }
}

bool Runtime::run_until(const std::function<bool()>& pred, TimeMs until_ms) {
  if (!options_.virtual_time)
    throw std::logic_error("run_until: this emulator runs in real time; use wait");
  return loops_[0]->run_until(until_ms, pred);
}

FleetSummary Runtime::summary() const {
  FleetSummary s;
  std::lock_guard<std::mutex> lock(mu_);
  auto tally = [&s](device::VirtualDevice& d) {
    ++s.devices;
    ++s.states[lwm2m::to_string(d.state())];
    ++s.exits[lwm2m::to_string(d.last_exit())];
    if (d.bootstrap_duration_ms() >= 0) s.bootstrap_ms.push_back(d.bootstrap_duration_ms());
    s.power_cuts += static_cast<size_t>(d.power_cuts());
    s.torn_configs += static_cast<size_t>(d.torn_configs());
    s.radio += d.link().counters().total;
  };
  for (size_t i = 0; i < loops_.size(); ++i) {
    const auto& loop = loops_[i];
    loop->call([&] {
      if (i < radios_.size()) s.send_failed += radios_[i]->send_failed();
      for (const auto& slot : devices_)
        if (slot.loop == loop.get()) tally(*slot.device);
    });
  }
  return s;
}

size_t Runtime::device_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return devices_.size();
}

}  // namespace hil::runtime
