// A thread-safe handle to a QEMU device (emulator/qemu/qemu_device.h) that
// the runtime hosts on one of its loops: what DeviceHandle is to a native
// device, for the operations a firmware image under QEMU supports.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/qemu/qemu_device.h"
#include "emulator/runtime/link_controls.h"
#include "emulator/runtime/loop.h"

namespace hil::runtime {

class QemuDeviceHandle : public LinkControls<QemuDeviceHandle> {
 public:
  QemuDeviceHandle(Loop* loop, qemu::QemuDevice* d) : loop_(loop), device_(d) {}

  const std::string& endpoint() const { return device_->endpoint(); }
  lwm2m::State state() const { return device_->state(); }
  lwm2m::BootstrapExit last_exit() const { return device_->last_exit(); }
  bool powered() const { return device_->powered(); }
  std::string address() const;
  std::vector<Event> timeline() const;
  std::map<std::string, int> exit_counts() const;
  TimeMs bootstrap_duration_ms() const;
  const std::string& work_dir() const { return device_->work_dir(); }
  int pid() const;

  Status start();
  Status reboot();
  void power_cut();
  int power_cuts() const;
  int torn_configs() const;
  int source_disagreements() const;
  void arm_power_cut(uint64_t op, std::optional<uint32_t> byte);
  std::string flash_path() const { return device_->flash_path(); }
  Result<std::vector<uint8_t>> flash_image() const { return device_->flash_image(); }
  Result<flash::StoreView> flash_store() const { return device_->flash_store(); }

 private:
  friend class LinkControls<QemuDeviceHandle>;
  Loop* loop_;
  qemu::QemuDevice* device_;
};

}  // namespace hil::runtime
