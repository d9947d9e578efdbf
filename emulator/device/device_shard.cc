#include "emulator/device/device_shard.h"

#include <arpa/inet.h>

namespace hil::device {

DeviceShard::DeviceShard(uint64_t seed, radio::Radio* radio) : context_(*this, seed) {
  if (radio == nullptr) return;
  context_.set_datagram_send([radio](coap_session_t* s, const uint8_t* data, size_t len) {
    uint32_t device_ip = ntohl(coap_session_get_addr_local(s)->addr.sin.sin_addr.s_addr);
    return radio->uplink(device_ip, *coap_session_get_addr_remote(s), data, len);
  });
}

std::optional<lwm2m::Response> DeviceShard::on_request(coap_session_t* s, const lwm2m::Request& r) {
  if (Device* d = Device::owner(s)) return d->on_request(s, r);
  return lwm2m::Response{lwm2m::Code::NotFound, {}, {}, {}};
}

void DeviceShard::on_response(coap_session_t* s, uint64_t tag, const lwm2m::Response& r) {
  if (Device* d = Device::owner(s)) d->on_response(tag, r);
}

void DeviceShard::on_failure(coap_session_t* s, uint64_t tag, coap_nack_reason_t reason) {
  if (Device* d = Device::owner(s)) d->on_failure(s, tag, reason);
}

void DeviceShard::on_session_event(coap_session_t* s, coap::SessionEvent e) {
  if (Device* d = Device::owner(s)) d->on_session_event(s, e);
}

}  // namespace hil::device
