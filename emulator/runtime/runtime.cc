#include "emulator/runtime/runtime.h"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>

#include "emulator/coap/address.h"
#include "emulator/lwm2m/client/factory.h"
#include "emulator/runtime/descriptors.h"

namespace hil::runtime {
namespace {

// A device's seed depends on the runtime's seed and its own name only, so
// adding a device never changes what another one does.
uint64_t mix(uint64_t seed, const std::string& name) {
  return seed * 0x9e3779b97f4a7c15ULL ^ std::hash<std::string>{}(name);
}

void add(radio::DirectionCounters& sum, const radio::DirectionCounters& c) {
  sum.sent += c.sent;
  sum.delivered += c.delivered;
  sum.dropped += c.dropped;
  sum.dropped_loss += c.dropped_loss;
  sum.dropped_burst += c.dropped_burst;
  sum.dropped_partition += c.dropped_partition;
  sum.dropped_asleep += c.dropped_asleep;
  sum.dropped_mtu += c.dropped_mtu;
  sum.dropped_rule += c.dropped_rule;
  sum.dropped_nat += c.dropped_nat;
  sum.duplicated += c.duplicated;
  sum.corrupted += c.corrupted;
  sum.delayed += c.delayed;
  sum.reordered += c.reordered;
  sum.nat_rebinds += c.nat_rebinds;
}

}  // namespace

// --- handles ----------------------------------------------------------------

std::string DeviceHandle::address() const {
  return loop_->call([&] { return device_->address(); });
}

std::vector<Event> DeviceHandle::timeline() const {
  return loop_->call([&] { return device_->timeline(); });
}

std::map<std::string, int> DeviceHandle::exit_counts() const {
  return loop_->call([&] {
    std::map<std::string, int> out;
    for (const auto& [exit, n] : device_->core().exit_counts()) out[lwm2m::to_string(exit)] = n;
    return out;
  });
}

TimeMs DeviceHandle::bootstrap_duration_ms() const {
  return loop_->call([&] { return device_->bootstrap_duration_ms(); });
}

lwm2m::ObjectTree DeviceHandle::objects(bool staged) const {
  return loop_->call([&] {
    const lwm2m::ObjectTree* s = device_->core().staged();
    return staged && s ? *s : device_->core().objects();
  });
}

Status DeviceHandle::start() {
  return loop_->call([&] { return device_->start(); });
}

Status DeviceHandle::reboot() {
  return loop_->call([&] { return device_->reboot(); });
}

void DeviceHandle::power_cut() {
  loop_->call([&] { device_->power_cut(); });
}

Status DeviceHandle::factory_reset() {
  return loop_->call([&] { return device_->factory_reset(); });
}

int DeviceHandle::power_cuts() const {
  return loop_->call([&] { return device_->power_cuts(); });
}

int DeviceHandle::torn_configs() const {
  return loop_->call([&] { return device_->torn_configs(); });
}

namespace {

constexpr const char* kNoFlash = "this device has no flash; create it with a flash geometry";

}  // namespace

// Runs `fn` on the device's storage on its loop thread; an Error without one.
template <typename T, typename F>
static Result<T> with_storage(Loop* loop, device::Device* d, F&& fn) {
  return loop->call([&]() -> Result<T> {
    if (d->storage() == nullptr) return Error{ErrorCode::kUnsupported, kNoFlash};
    Result<T> r = fn(*d->storage());
    d->take_storage_events();  // an injected fault is on the timeline at once
    return r;
  });
}

Status DeviceHandle::arm_power_cut(uint64_t op, std::optional<uint32_t> byte) {
  return with_storage<Ok>(loop_, device_, [&](device::Storage& s) -> Status {
    s.flash().arm_power_cut(s.flash().ops() + op, byte);
    return ok_status();
  });
}

Status DeviceHandle::arm_random_power_cut(uint64_t within_ops, std::optional<uint64_t> seed) {
  return with_storage<Ok>(loop_, device_, [&](device::Storage& s) -> Status {
    s.flash().arm_random_power_cut(within_ops, seed);
    return ok_status();
  });
}

Status DeviceHandle::flip_bit(uint32_t addr, uint8_t bit) {
  return with_storage<Ok>(loop_, device_,
                          [&](device::Storage& s) { return s.flash().flip_bit(addr, bit); });
}

Status DeviceHandle::flip_random_bits(uint32_t addr, uint32_t len, uint32_t count) {
  return with_storage<Ok>(loop_, device_, [&](device::Storage& s) {
    return s.flash().flip_random_bits(addr, len, count);
  });
}

Status DeviceHandle::wear_out(uint32_t sector) {
  return with_storage<Ok>(loop_, device_,
                          [&](device::Storage& s) { return s.flash().wear_out(sector); });
}

Result<std::vector<uint8_t>> DeviceHandle::flash_image() const {
  return with_storage<std::vector<uint8_t>>(loop_, device_,
                                            [](device::Storage& s) { return s.flash().image(); });
}

Result<flash::StoreView> DeviceHandle::flash_store() const {
  return with_storage<flash::StoreView>(loop_, device_,
                                        [](device::Storage& s) { return s.store().inspect(); });
}

Result<flash::NorCounters> DeviceHandle::flash_counters() const {
  return with_storage<flash::NorCounters>(loop_, device_,
                                          [](device::Storage& s) { return s.flash().counters(); });
}

Result<std::vector<uint32_t>> DeviceHandle::flash_erase_counts() const {
  return with_storage<std::vector<uint32_t>>(
      loop_, device_, [](device::Storage& s) { return s.flash().erase_counts(); });
}

void DeviceHandle::deregister() {
  loop_->call([&] { device_->deregister(); });
}

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

std::vector<server::Registration> RegistrationServerHandle::registrations() const {
  return loop_->call([&] { return server_->core().registrations(); });
}

Result<lwm2m::Response> RegistrationServerHandle::request(const std::string& endpoint,
                                                          const lwm2m::Request& r,
                                                          double timeout_s) const {
  // Shared: an answer after the caller gave up still has a promise to keep.
  auto answer = std::make_shared<std::promise<Result<lwm2m::Response>>>();
  std::future<Result<lwm2m::Response>> future = answer->get_future();
  server::RegistrationServer* s = server_;
  loop_->post([s, endpoint, r, answer] {
    s->request(endpoint, r,
               [answer](Result<lwm2m::Response> got) { answer->set_value(std::move(got)); });
  });
  if (future.wait_for(std::chrono::duration<double>(timeout_s)) != std::future_status::ready)
    return Error{ErrorCode::kTimeout,
                 "no answer from " + endpoint + " within " + std::to_string(timeout_s) + " s"};
  return future.get();
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
    gates_.push_back(std::make_unique<device::HandshakeGate>(options_.device_handshakes));
    if (!options_.radio) continue;
    Loop* loop = loops_.back().get();
    uint64_t port_seed = options_.virtual_time ? mix(options_.seed, "radio ports") | 1 : 0;
    auto radio = loop->call([&] { return radio::Radio::open(*loop, 4, port_seed); });
    if (!radio) throw std::runtime_error(radio.error().message);
    radios_.push_back(std::move(*radio));
  }
}

Runtime::~Runtime() {
  // Each object dies on the thread that owns its libcoap context.
  for (auto& slot : qemu_devices_) slot.loop->call([&] { slot.device.reset(); });
  for (auto& slot : devices_) slot.loop->call([&] { slot.device.reset(); });
  // The shards before the radios: freeing a context frees the DTLS
  // sessions its queue still held, and each sends its close_notify through
  // the radio.
  for (auto& shard : shards_)
    shard.loop->call([&] {
      shard.loop->remove(shard.shard->context());
      shard.shard.reset();
    });
  for (size_t i = 0; i < radios_.size(); ++i) loops_[i]->call([&] { radios_[i].reset(); });
  loops_[0]->call([&] {
    for (auto& s : bootstrap_servers_)
      for (auto& c : s->endpoint().contexts()) loops_[0]->remove(*c);
    bootstrap_servers_.clear();
  });
  registration_loop().call([&] {
    for (auto& s : registration_servers_)
      for (auto& c : s->endpoint().contexts()) registration_loop().remove(*c);
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
  auto draw = [&seed] {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return static_cast<uint16_t>(20000 + (z ^ (z >> 31)) % 30000);
  };
  for (int attempt = 0; seed != 0 && (any_plain || any_secure) && attempt < 32; ++attempt) {
    ListenAddresses a = addrs;
    if (any_plain) coap_address_set_port(&a.plain, draw());
    if (any_secure) coap_address_set_port(&a.secure, draw());
    if (listen(a)) return ok_status();
  }
  return listen(addrs);
}

}  // namespace

uint64_t Runtime::server_port_seed(const std::string& name) const {
  return options_.virtual_time ? mix(options_.seed, name + " ports") | 1 : 0;
}

Result<BootstrapServerHandle> Runtime::add_bootstrap_server(
    server::BootstrapConfig config, std::optional<lwm2m::Profile> profile, coap::Timing timing,
    const std::string& listen, const std::string& secure_listen, server::BootstrapLimits limits) {
  HIL_TRY_ASSIGN(auto addrs, listen_addresses(listen, secure_listen));
  Loop& loop = *loops_[0];
  const std::string name = "bootstrap-server-" + std::to_string(bootstrap_servers_.size());
  return loop.call([&]() -> Result<BootstrapServerHandle> {
    std::unique_ptr<server::BootstrapServer> s;
    HIL_TRY(listen_on_seeded_ports(addrs, server_port_seed(name), [&](const ListenAddresses& a) {
      s = std::make_unique<server::BootstrapServer>(
          config, profile, timing, loop, mix(options_.seed, name), options_.server_shards, limits);
      return s->listen(a.plain, a.secure, options_.server_handshakes);
    }));
    for (auto& c : s->endpoint().contexts()) loop.add(*c);
    BootstrapServerHandle h(&loop, s.get());
    bootstrap_servers_.push_back(std::move(s));
    return h;
  });
}

Result<RegistrationServerHandle> Runtime::add_registration_server(
    coap::Timing timing, server::PskTable psk, const std::string& listen,
    const std::string& secure_listen, server::RegistrationLimits limits) {
  HIL_TRY_ASSIGN(auto addrs, listen_addresses(listen, secure_listen));
  Loop& loop = registration_loop();
  const std::string name = "registration-server-" + std::to_string(registration_servers_.size());
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
                                                       options_.server_shards, limits, ids);
      return s->listen(a.plain, a.secure, options_.server_handshakes);
    }));
    for (auto& c : s->endpoint().contexts()) loop.add(*c);
    RegistrationServerHandle h(&loop, s.get());
    registration_servers_.push_back(std::move(s));
    return h;
  });
}

// The bootstrap server works on the first loop, the registration server on
// the last: with DTLS, each server's side of the handshakes is as much work
// as all devices' sides together, and one loop cannot carry both servers.
Loop& Runtime::registration_loop() const { return *loops_.back(); }

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

Runtime::Shard& Runtime::shard_with_room() {
  if (shards_.empty() || shards_.back().devices >= options_.devices_per_shard) {
    Loop* loop = loops_[shards_.size() % loops_.size()].get();
    uint64_t seed = mix(options_.seed, "shard-" + std::to_string(shards_.size()));
    auto shard = loop->call([&] {
      auto s = std::make_unique<device::DeviceShard>(seed, radio_of(loop));
      loop->add(s->context());
      return s;
    });
    shards_.push_back(Shard{loop, std::move(shard), 0});
  }
  return shards_.back();
}

size_t Runtime::descriptors_for(const device::DeviceConfig& tmpl, size_t count) const {
  size_t per_device = options_.radio ? 0 : DescriptorCosts::kSocketSessions;
  if (tmpl.flash && !tmpl.flash->image_path.empty()) per_device += DescriptorCosts::kFlashFile;
  size_t room = shards_.empty() ? 0 : options_.devices_per_shard - shards_.back().devices;
  size_t shards =
      count <= room ? 0
                    : (count - room + options_.devices_per_shard - 1) / options_.devices_per_shard;
  return count * per_device + shards * DescriptorCosts::kContext;
}

Result<std::vector<DeviceHandle>> Runtime::add_devices(const device::DeviceConfig& tmpl,
                                                       size_t count, const std::string& prefix,
                                                       bool start) {
  std::lock_guard<std::mutex> lock(mu_);
  HIL_TRY(reserve_descriptors(descriptors_for(tmpl, count), std::to_string(count) + " devices"));
  std::vector<DeviceHandle> handles;
  handles.reserve(count);
  size_t made = 0;
  while (made < count) {
    Shard& shard = shard_with_room();
    size_t batch = std::min(count - made, options_.devices_per_shard - shard.devices);
    uint32_t first = addresses_;
    addresses_ += static_cast<uint32_t>(batch);
    // One trip to the loop thread per shard, not per device.
    auto created = shard.loop->call([&] {
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
        out.push_back(std::make_unique<device::Device>(c, shard.shard->context(), *shard.loop,
                                                       radio_of(shard.loop), gate_of(shard.loop),
                                                       [this] { notify(); }));
      }
      return out;
    });
    for (auto& d : created) {
      handles.push_back(DeviceHandle(shard.loop, d.get()));
      devices_.push_back(Slot{shard.loop, std::move(d)});
    }
    shard.devices += batch;
    made += batch;
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

Result<std::vector<QemuDeviceHandle>> Runtime::add_qemu_devices(const qemu::QemuDeviceConfig& tmpl,
                                                                size_t count,
                                                                const std::string& prefix,
                                                                bool start) {
  if (radios_.empty())
    return Error{ErrorCode::kUnsupported,
                 "QEMU devices need the emulated radio (this runtime runs without one)"};
  std::lock_guard<std::mutex> lock(mu_);
  HIL_TRY(reserve_descriptors(count * DescriptorCosts::kQemuDevice,
                              std::to_string(count) + " QEMU devices"));
  std::vector<QemuDeviceHandle> handles;
  for (size_t i = 0; i < count; ++i) {
    Loop* loop = loops_[qemu_devices_.size() % loops_.size()].get();
    qemu::QemuDeviceConfig c = tmpl;
    if (count > 1 || !prefix.empty()) c.endpoint = prefix + std::to_string(i);
    c.seed = mix(options_.seed, c.endpoint);
    c.link_seed = mix(options_.seed, "link " + c.endpoint);
    c.address_index = addresses_++;
    c.work_dir = tmpl.work_dir + "/" + c.endpoint;
    c.flash_file = lwm2m::with_endpoint(c.flash_file, c.endpoint);
    radio::Radio* radio = radio_of(loop);
    auto d = loop->call([&] {
      return std::make_unique<qemu::QemuDevice>(std::move(c), *loop, *radio, [this] { notify(); });
    });
    handles.emplace_back(loop, d.get());
    qemu_devices_.push_back(QemuSlot{loop, std::move(d)});
  }
  if (start) {
    for (size_t i = qemu_devices_.size() - count; i < qemu_devices_.size(); ++i) {
      QemuSlot& slot = qemu_devices_[i];
      // A device that cannot start says why on its timeline.
      slot.loop->post([d = slot.device.get()] { (void)d->start(); });
    }
  }
  return handles;
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
    if (pred()) return true;
    lock.lock();
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Fleets change state thousands of times a second: re-check on change,
    // but at most every few milliseconds.
    changed_.wait_until(lock, deadline, [&] { return version_ != seen; });
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    lock.lock();
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
  // Native and QEMU devices answer the same questions.
  auto tally = [&s](auto& d) {
    ++s.devices;
    ++s.states[lwm2m::to_string(d.state())];
    ++s.exits[lwm2m::to_string(d.last_exit())];
    if (d.bootstrap_duration_ms() >= 0) s.bootstrap_ms.push_back(d.bootstrap_duration_ms());
    s.power_cuts += static_cast<size_t>(d.power_cuts());
    s.torn_configs += static_cast<size_t>(d.torn_configs());
    add(s.radio, d.link().counters().total);
  };
  for (size_t i = 0; i < loops_.size(); ++i) {
    const auto& loop = loops_[i];
    loop->call([&] {
      if (i < radios_.size()) s.send_failed += radios_[i]->send_failed();
      for (const auto& slot : devices_)
        if (slot.loop == loop.get()) tally(*slot.device);
      for (const auto& slot : qemu_devices_)
        if (slot.loop == loop.get()) tally(*slot.device);
    });
  }
  return s;
}

size_t Runtime::device_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return devices_.size() + qemu_devices_.size();
}

}  // namespace hil::runtime
