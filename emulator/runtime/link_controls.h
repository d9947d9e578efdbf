// The radio-link controls a device handle offers, native or QEMU alike:
// each runs on the device's loop. `Handle` has members loop_ (Loop*) and
// device_ (with link() and set_capture()), and befriends this class.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "emulator/radio/radio.h"
#include "emulator/runtime/loop.h"

namespace hil::runtime {

template <typename Handle>
class LinkControls {
 public:
  Status configure_link(const radio::LinkConfig& config) {
    return on_loop([&](auto& d) { return d.link().configure(config); });
  }
  Status add_rule(const radio::Rule& rule) {
    return on_loop([&](auto& d) { return d.link().add_rule(rule); });
  }
  void clear_rules() {
    on_loop([](auto& d) { d.link().clear_rules(); });
  }
  void rebind_nat() {
    on_loop([](auto& d) { d.link().rebind_nat(); });
  }
  radio::LinkCounters link_counters() const {
    return on_loop([](auto& d) { return d.link().counters(); });
  }
  std::vector<std::string> link_decisions() const {
    return on_loop([](auto& d) { return d.link().decisions(); });
  }
  // This device's datagrams into a pcapng file, from now on; "" stops.
  Status capture(const std::string& path) {
    const Handle& h = static_cast<const Handle&>(*this);
    std::shared_ptr<radio::Capture> c;
    if (!path.empty()) {
      auto opened = radio::Capture::open(path, h.loop_->clock());
      if (!opened) return opened.error().prefixed("capture: ");
      c = *opened;
    }
    on_loop([&](auto& d) { d.set_capture(c); });
    return ok_status();
  }

 private:
  template <typename F>
  auto on_loop(F&& fn) const {
    const Handle& h = static_cast<const Handle&>(*this);
    return h.loop_->call([&] { return fn(*h.device_); });
  }
};

}  // namespace hil::runtime
