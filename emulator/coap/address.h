// Socket addresses for devices and servers on loopback.
#pragma once

#include <coap3/coap.h>

#include <cstdint>
#include <optional>
#include <string>

#include "emulator/base/ipv4.h"
#include "emulator/base/result.h"

namespace hil::coap {

struct ServerAddress {
  coap_address_t address;
  bool secure = false;  // coaps://
};

// "coap://127.0.0.1:5683", "coaps://[::1]:5684"; numeric hosts and
// "localhost" only, since the emulator never leaves the machine. Errors of
// both: kInvalidArgument.
Result<ServerAddress> parse_uri(const std::string& uri);
// "127.0.0.1:5683", "[::1]:0", ":0" (127.0.0.1).
Result<coap_address_t> parse_host_port(const std::string& text);
// 127.1.0.0 + index + 1, port 0: every device its own source address at no
// descriptor cost (loopback answers for all of 127/8).
coap_address_t device_address(uint32_t index);

std::string to_string(const coap_address_t& a);  // "127.0.0.1:5683"
uint16_t port_of(const coap_address_t& a);
// nullopt for an IPv6 address.
std::optional<Ipv4SocketAddress> ipv4_of(const coap_address_t& a);
coap_address_t coap_address_of(const Ipv4SocketAddress& a);

}  // namespace hil::coap
