// A thread-safe handle to one device of the runtime, native or a firmware
// image under QEMU alike (device::VirtualDevice): every call runs on the
// device's loop, and reads are snapshots. The calls marked "native" or
// "QEMU" concern one kind only; on the other they fail with an Error
// (or, for a read, say "none").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/device/device.h"
#include "emulator/qemu/qemu_device.h"
#include "emulator/runtime/loop.h"

namespace hil::runtime {

class Runtime;

class DeviceHandle {
 public:
  DeviceHandle(Loop* loop, device::Device* native);
  DeviceHandle(Loop* loop, qemu::QemuDevice* image);

  const std::string& endpoint() const { return device_->endpoint(); }
  lwm2m::State state() const { return device_->state(); }
  lwm2m::BootstrapExit last_exit() const { return device_->last_exit(); }
  bool powered() const { return device_->powered(); }
  bool is_qemu() const { return image_ != nullptr; }
  std::string address() const;
  std::vector<Event> timeline() const;
  std::map<std::string, int> exit_counts() const;
  TimeMs bootstrap_duration_ms() const;
  Status start();
  Status reboot();
  void power_cut();
  int power_cuts() const;
  int torn_configs() const;
  // Cut the power at flash operation `op`, before it or at `byte` inside
  // it. Native: counted from now. QEMU: from the image's next boot.
  Status arm_power_cut(uint64_t op, std::optional<uint32_t> byte);
  // Errors: no flash (the host knows of).
  Result<std::vector<uint8_t>> flash_image() const;
  Result<flash::StoreView> flash_store() const;

  // The radio link.
  Status configure_link(const radio::LinkConfig& config);
  Status add_rule(const radio::Rule& rule);
  void clear_rules();
  void rebind_nat();
  radio::LinkCounters link_counters() const;
  std::vector<std::string> link_decisions() const;
  // This device's datagrams into a pcapng file, from now on; "" stops.
  Status capture(const std::string& path);

  // Native. The live object tree, or the staged one while bootstrapping.
  Result<lwm2m::ObjectTree> objects(bool staged = false) const;
  Status deregister();
  Status factory_reset();
  // A resource's value from its text, as the device's own sensor would
  // change it: observations of it notify.
  Status set_resource(const std::string& path, const std::string& text);
  // Native flash faults (ETS 1.1-int-6). Errors: no flash, or the flash
  // refuses the fault.
  Status arm_random_power_cut(uint64_t within_ops, std::optional<uint64_t> seed);
  Status flip_bit(uint32_t addr, uint8_t bit);
  Status flip_random_bits(uint32_t addr, uint32_t len, uint32_t count);
  Status wear_out(uint32_t sector);
  Result<flash::NorCounters> flash_counters() const;
  Result<std::vector<uint32_t>> flash_erase_counts() const;

  // QEMU: its working directory and flash file ("" for none), its process
  // (-1 while none runs) and the exits its UART and the wire disagreed on.
  std::string work_dir() const;
  std::string flash_path() const;
  int pid() const;
  int source_disagreements() const;

 private:
  friend class Runtime;
  // `fn` on the native device on its loop; an Error on a QEMU device.
  template <typename T, typename F>
  Result<T> on_native(const char* what, F&& fn) const;
  // `fn` on the native device's storage; an Error without one.
  template <typename T, typename F>
  Result<T> on_storage(const char* what, F&& fn) const;

  Loop* loop_;
  device::VirtualDevice* device_;
  device::Device* native_ = nullptr;
  qemu::QemuDevice* image_ = nullptr;
};

}  // namespace hil::runtime
