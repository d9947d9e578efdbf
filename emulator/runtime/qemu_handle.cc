#include "emulator/runtime/qemu_handle.h"

namespace hil::runtime {

std::string QemuDeviceHandle::address() const {
  return loop_->call([&] { return device_->address(); });
}

std::vector<Event> QemuDeviceHandle::timeline() const {
  return loop_->call([&] { return device_->timeline(); });
}

std::map<std::string, int> QemuDeviceHandle::exit_counts() const {
  return loop_->call([&] { return device_->exit_counts(); });
}

TimeMs QemuDeviceHandle::bootstrap_duration_ms() const {
  return loop_->call([&] { return device_->bootstrap_duration_ms(); });
}

int QemuDeviceHandle::source_disagreements() const {
  return loop_->call([&] { return device_->source_disagreements(); });
}

int QemuDeviceHandle::pid() const {
  return loop_->call([&] { return static_cast<int>(device_->pid()); });
}

Status QemuDeviceHandle::start() {
  return loop_->call([&] { return device_->start(); });
}

Status QemuDeviceHandle::reboot() {
  return loop_->call([&] { return device_->reboot(); });
}

void QemuDeviceHandle::power_cut() {
  loop_->call([&] { device_->power_cut(); });
}

int QemuDeviceHandle::power_cuts() const {
  return loop_->call([&] { return device_->power_cuts(); });
}

int QemuDeviceHandle::torn_configs() const {
  return loop_->call([&] { return device_->torn_configs(); });
}

void QemuDeviceHandle::arm_power_cut(uint64_t op, std::optional<uint32_t> byte) {
  loop_->call([&] { device_->arm_power_cut(op, byte); });
}

}  // namespace hil::runtime
