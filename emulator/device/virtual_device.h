// What the runtime, the bindings and a test may ask of any device on the
// emulator's radio, whatever runs its client: the native client core
// (device::Device) or a firmware image under QEMU (qemu::QemuDevice). One
// interface, so that the fleet, its handles and the Python face are written
// once. Calls run on the device's loop thread unless marked.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emulator/base/event.h"
#include "emulator/base/result.h"
#include "emulator/flash/config_store.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/radio/radio.h"

namespace hil::device {

class VirtualDevice {
 public:
  virtual ~VirtualDevice() = default;

  // Any thread.
  virtual const std::string& endpoint() const = 0;
  virtual lwm2m::State state() const = 0;
  virtual lwm2m::BootstrapExit last_exit() const = 0;
  virtual bool powered() const = 0;

  // Boots. Errors: it runs already, or cannot boot (also on its timeline).
  virtual Status start() = 0;
  // Loses RAM (QEMU: the process) and boots again from its flash.
  virtual Status reboot() = 0;
  // Power off now, between two flash operations; it boots again after
  // its reboot_after_power_cut delay.
  virtual void power_cut() = 0;

  virtual const std::vector<Event>& timeline() const = 0;
  // How many times bootstrap ended, by exit name.
  virtual std::map<std::string, int> exit_counts() const = 0;
  // From the first Request Bootstrap to the first exit; -1 until then.
  virtual TimeMs bootstrap_duration_ms() const = 0;
  virtual int power_cuts() const = 0;
  // Boots that found neither the old nor the new configuration: must be 0.
  virtual int torn_configs() const = 0;
  // 127.1.x.y, the address servers see it at.
  virtual std::string address() const = 0;

  virtual radio::Link& link() = 0;
  // Its datagrams into a pcapng file; null stops.
  virtual void set_capture(std::shared_ptr<radio::Capture> capture) = 0;
  // The flash as a chip programmer would read it, and its store decoded.
  // Error: the device has no flash (the host knows of).
  virtual Result<std::vector<uint8_t>> flash_image() const = 0;
  virtual Result<flash::StoreView> flash_store() const = 0;
};

}  // namespace hil::device
