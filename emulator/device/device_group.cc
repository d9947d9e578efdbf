#include "emulator/device/device_group.h"

namespace hil::device {

DeviceGroup::DeviceGroup(uint64_t seed, bool radio) : context_(*this, seed) {
  if (radio) context_.carry_through_ports();
}

std::optional<lwm2m::Response> DeviceGroup::on_request(coap_session_t* s, const lwm2m::Request& r) {
  if (Device* d = Device::owner(s)) return d->on_request(s, r);
  return lwm2m::Response{lwm2m::Code::NotFound, {}, {}, {}};
}

void DeviceGroup::on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) {
  if (Device* d = Device::owner(s)) d->on_response(tag, r);
}

void DeviceGroup::on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) {
  if (Device* d = Device::owner(s)) d->on_failure(s, tag, reason);
}

void DeviceGroup::on_notify_failed(coap_session_t* s, const lwm2m::Bytes& token,
                                   const std::string& reason) {
  if (Device* d = Device::owner(s)) d->on_notify_failed(token, reason);
}

void DeviceGroup::on_session_event(coap_session_t* s, coap::SessionEvent e) {
  if (Device* d = Device::owner(s)) d->on_session_event(s, e);
}

}  // namespace hil::device
