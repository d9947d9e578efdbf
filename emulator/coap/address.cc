#include "emulator/coap/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace hil::coap {
namespace {

Result<coap_address_t> make(const std::string& host, uint16_t port) {
  coap_address_t a;
  coap_address_init(&a);
  std::string h = host == "localhost" || host.empty() ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, h.c_str(), &a.addr.sin.sin_addr) == 1) {
    a.addr.sin.sin_family = AF_INET;
    a.addr.sin.sin_port = htons(port);
    a.size = sizeof(a.addr.sin);
    return a;
  }
  if (inet_pton(AF_INET6, h.c_str(), &a.addr.sin6.sin6_addr) == 1) {
    a.addr.sin6.sin6_family = AF_INET6;
    a.addr.sin6.sin6_port = htons(port);
    a.size = sizeof(a.addr.sin6);
    return a;
  }
  return Error{ErrorCode::kInvalidArgument,
               "'" + host + "' is not a numeric IPv4/IPv6 address or localhost"};
}

}  // namespace

Result<ServerAddress> parse_uri(const std::string& uri) {
  coap_uri_t u;
  if (coap_split_uri(reinterpret_cast<const uint8_t*>(uri.data()), uri.size(), &u) < 0 ||
      (u.scheme != COAP_URI_SCHEME_COAP && u.scheme != COAP_URI_SCHEME_COAPS))
    return Error{ErrorCode::kInvalidArgument,
                 "'" + uri + "' is not a coap:// or coaps:// URI (e.g. coap://127.0.0.1:5683)"};
  auto a = make(std::string(reinterpret_cast<const char*>(u.host.s), u.host.length), u.port);
  if (!a) return a.error().prefixed("in '" + uri + "': ");
  return ServerAddress{*a, u.scheme == COAP_URI_SCHEME_COAPS};
}

Result<coap_address_t> parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return Error{ErrorCode::kInvalidArgument,
                 "'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:5683)"};
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  unsigned long port = std::strtoul(text.c_str() + colon + 1, &end, 10);
  if (end == text.c_str() + colon + 1 || *end != '\0' || port > 65535)
    return Error{ErrorCode::kInvalidArgument, "'" + text + "': the port must be a number 0..65535"};
  return make(host, static_cast<uint16_t>(port));
}

coap_address_t device_address(uint32_t index) {
  return coap_address_of({(127u << 24 | 1u << 16) + index + 1, 0});
}

std::string to_string(const coap_address_t& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.addr.sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a.addr.sin6.sin6_addr, buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(port_of(a));
  }
  inet_ntop(AF_INET, &a.addr.sin.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(port_of(a));
}

uint16_t port_of(const coap_address_t& a) {
  return ntohs(a.addr.sa.sa_family == AF_INET6 ? a.addr.sin6.sin6_port : a.addr.sin.sin_port);
}

std::optional<Ipv4SocketAddress> ipv4_of(const coap_address_t& a) {
  if (a.addr.sa.sa_family != AF_INET) return std::nullopt;
  return Ipv4SocketAddress{ntohl(a.addr.sin.sin_addr.s_addr), ntohs(a.addr.sin.sin_port)};
}

coap_address_t coap_address_of(const Ipv4SocketAddress& a) {
  coap_address_t out;
  coap_address_init(&out);
  out.size = sizeof(out.addr.sin);
  out.addr.sin.sin_family = AF_INET;
  out.addr.sin.sin_addr.s_addr = htonl(a.ip);
  out.addr.sin.sin_port = htons(a.port);
  return out;
}

}  // namespace hil::coap
