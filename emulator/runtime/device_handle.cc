#include "emulator/runtime/device_handle.h"

#include <memory>

namespace hil::runtime {

DeviceHandle::DeviceHandle(Loop* loop, device::Device* native)
    : loop_(loop), device_(native), native_(native) {}

DeviceHandle::DeviceHandle(Loop* loop, qemu::QemuDevice* image)
    : loop_(loop), device_(image), image_(image) {}

template <typename T, typename F>
Result<T> DeviceHandle::on_native(const char* what, F&& fn) const {
  if (native_ == nullptr)
    return Error{ErrorCode::kUnsupported,
                 std::string(what) +
                     ": not on a firmware image under QEMU (the host cannot reach "
                     "inside the image)"};
  return loop_->call([&]() -> Result<T> { return fn(*native_); });
}

template <typename T, typename F>
Result<T> DeviceHandle::on_storage(const char* what, F&& fn) const {
  return on_native<T>(what, [&](device::Device& d) -> Result<T> {
    if (d.storage() == nullptr) return Error{ErrorCode::kUnsupported, device::kNoFlash};
    Result<T> r = fn(*d.storage());
    d.take_storage_events();  // an injected fault is on the timeline at once
    return r;
  });
}

std::string DeviceHandle::address() const {
  return loop_->call([&] { return device_->address(); });
}

std::vector<Event> DeviceHandle::timeline() const {
  return loop_->call([&] { return device_->timeline(); });
}

std::map<std::string, int> DeviceHandle::exit_counts() const {
  return loop_->call([&] { return device_->exit_counts(); });
}

TimeMs DeviceHandle::bootstrap_duration_ms() const {
  return loop_->call([&] { return device_->bootstrap_duration_ms(); });
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

int DeviceHandle::power_cuts() const {
  return loop_->call([&] { return device_->power_cuts(); });
}

int DeviceHandle::torn_configs() const {
  return loop_->call([&] { return device_->torn_configs(); });
}

Status DeviceHandle::arm_power_cut(uint64_t op, std::optional<uint32_t> byte) {
  if (image_ != nullptr) {
    loop_->call([&] { image_->arm_power_cut(op, byte); });
    return ok_status();
  }
  return on_storage<Ok>("arm_power_cut", [&](storage::Storage& s) -> Status {
    s.flash().arm_power_cut(s.flash().ops() + op, byte);
    return ok_status();
  });
}

Result<std::vector<uint8_t>> DeviceHandle::flash_image() const {
  return loop_->call([&] { return device_->flash_image(); });
}

Result<flash::StoreView> DeviceHandle::flash_store() const {
  return loop_->call([&] { return device_->flash_store(); });
}

Status DeviceHandle::configure_link(const radio::LinkConfig& config) {
  return loop_->call([&] { return device_->link().configure(config); });
}

Status DeviceHandle::add_rule(const radio::Rule& rule) {
  return loop_->call([&] { return device_->link().add_rule(rule); });
}

void DeviceHandle::clear_rules() {
  loop_->call([&] { device_->link().clear_rules(); });
}

void DeviceHandle::rebind_nat() {
  loop_->call([&] { device_->link().rebind_nat(); });
}

radio::LinkCounters DeviceHandle::link_counters() const {
  return loop_->call([&] { return device_->link().counters(); });
}

std::vector<std::string> DeviceHandle::link_decisions() const {
  return loop_->call([&] { return device_->link().decisions(); });
}

Status DeviceHandle::capture(const std::string& path) {
  std::shared_ptr<radio::Capture> c;
  if (!path.empty()) {
    auto opened = radio::Capture::open(path, loop_->clock());
    if (!opened) return opened.error().prefixed("capture: ");
    c = *opened;
  }
  loop_->call([&] { device_->set_capture(c); });
  return ok_status();
}

Result<lwm2m::ObjectTree> DeviceHandle::objects(bool staged) const {
  return on_native<lwm2m::ObjectTree>("objects", [&](device::Device& d) {
    const lwm2m::Client* core = d.core();
    if (core == nullptr) return lwm2m::ObjectTree{};  // off: nothing in RAM
    const lwm2m::ObjectTree* s = core->staged();
    return staged && s ? *s : core->objects();
  });
}

Status DeviceHandle::deregister() {
  return on_native<Ok>("deregister", [](device::Device& d) {
    d.deregister();
    return ok_status();
  });
}

Status DeviceHandle::set_resource(const std::string& path, const std::string& text) {
  return on_native<Ok>("set_resource",
                       [&](device::Device& d) { return d.set_resource(path, text); });
}

Status DeviceHandle::factory_reset() {
  return on_native<Ok>("factory_reset", [](device::Device& d) { return d.factory_reset(); });
}

Status DeviceHandle::arm_random_power_cut(uint64_t within_ops, std::optional<uint64_t> seed) {
  return on_storage<Ok>("arm_random_power_cut", [&](storage::Storage& s) -> Status {
    s.flash().arm_random_power_cut(within_ops, seed);
    return ok_status();
  });
}

Status DeviceHandle::flip_bit(uint32_t addr, uint8_t bit) {
  return on_storage<Ok>("flip_bit",
                        [&](storage::Storage& s) { return s.flash().flip_bit(addr, bit); });
}

Status DeviceHandle::flip_random_bits(uint32_t addr, uint32_t len, uint32_t count) {
  return on_storage<Ok>("flip_random_bits", [&](storage::Storage& s) {
    return s.flash().flip_random_bits(addr, len, count);
  });
}

Status DeviceHandle::wear_out(uint32_t sector) {
  return on_storage<Ok>("wear_out",
                        [&](storage::Storage& s) { return s.flash().wear_out(sector); });
}

Result<flash::NorCounters> DeviceHandle::flash_counters() const {
  return on_storage<flash::NorCounters>("flash_counters",
                                        [](storage::Storage& s) { return s.flash().counters(); });
}

Result<std::vector<uint32_t>> DeviceHandle::flash_erase_counts() const {
  return on_storage<std::vector<uint32_t>>(
      "flash_erase_counts", [](storage::Storage& s) { return s.flash().erase_counts(); });
}

std::string DeviceHandle::work_dir() const { return image_ ? image_->work_dir() : ""; }

std::string DeviceHandle::flash_path() const { return image_ ? image_->flash_path() : ""; }

int DeviceHandle::pid() const {
  if (image_ == nullptr) return -1;
  return loop_->call([&] { return static_cast<int>(image_->pid()); });
}

int DeviceHandle::source_disagreements() const {
  if (image_ == nullptr) return 0;
  return loop_->call([&] { return image_->source_disagreements(); });
}

}  // namespace hil::runtime
