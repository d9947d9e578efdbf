// A device group: the devices that share one libcoap context (at most
// RuntimeOptions::devices_per_context). libcoap walks every session of a
// context on each step, so contexts stay small and many.
// `radio`: its sessions' datagrams go through the ports of their radio
// paths (Device opens them), not through sockets of their own.
#pragma once

#include "emulator/coap/context.h"
#include "emulator/device/device.h"

namespace hil::device {

class DeviceGroup final : public coap::Context::Handler {
 public:
  DeviceGroup(uint64_t seed, bool radio);

  coap::Context& context() { return context_; }

  std::optional<lwm2m::Response> on_request(coap_session_t* s, const lwm2m::Request& r) override;
  void on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) override;
  void on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) override;
  void on_session_event(coap_session_t* s, coap::SessionEvent e) override;
  void on_notify_failed(coap_session_t* s, const lwm2m::Bytes& token,
                        const std::string& reason) override;

 private:
  coap::Context context_;
};

}  // namespace hil::device
