// CoAP requests and responses as the client core and the servers see them:
// method, path, query, content format, payload. Message ids and
// retransmission belong to the transport (libcoap) and never appear here; a
// received request's token does, opaque, because it names an observation
// (RFC 7641) that outlives the exchange.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hil::lwm2m {

using Bytes = std::vector<uint8_t>;

enum class Method : uint8_t { Get = 1, Post = 2, Put = 3, Delete = 4 };

// CoAP response codes as class * 32 + detail (RFC 7252, 12.1.2).
enum class Code : uint8_t {
  Created = 65,             // 2.01
  Deleted = 66,             // 2.02
  Changed = 68,             // 2.04
  Content = 69,             // 2.05
  BadRequest = 128,         // 4.00
  Unauthorized = 129,       // 4.01
  BadOption = 130,          // 4.02
  Forbidden = 131,          // 4.03
  NotFound = 132,           // 4.04
  MethodNotAllowed = 133,   // 4.05
  NotAcceptable = 134,      // 4.06
  UnsupportedFormat = 143,  // 4.15
  InternalError = 160,      // 5.00
  Unavailable = 163,        // 5.03 Service Unavailable
};

constexpr bool is_success(Code c) { return (static_cast<uint8_t>(c) >> 5) == 2; }
std::string to_string(Code c);    // "2.04"
std::string to_string(Method m);  // "PUT"

namespace format {
constexpr uint16_t kText = 0;
constexpr uint16_t kLinkFormat = 40;
constexpr uint16_t kOpaque = 42;
constexpr uint16_t kSenmlJson = 110;
constexpr uint16_t kSenmlCbor = 112;
constexpr uint16_t kTlv = 11542;
}  // namespace format

struct Request {
  Method method = Method::Get;
  std::vector<std::string> path;   // Uri-Path segments
  std::vector<std::string> query;  // Uri-Query items, "key=value"
  std::optional<uint16_t> content_format;
  std::optional<uint16_t> accept;
  std::optional<uint32_t> observe = std::nullopt;  // 0 registers an observation, 1 cancels it
  Bytes payload;
  Bytes token;  // of a received request, set by the transport; sent ones get a fresh one

  std::string uri_path() const;  // "/1/0/1", "/" when empty
  // Value of "key=value" in the query, or of a bare "key" (empty string).
  std::optional<std::string> query_param(const std::string& key) const;
};
// "POST /bs?ep=dev-1&Finish=true", for timelines.
std::string to_string(const Request& r);

struct Response {
  Code code = Code::Changed;
  std::optional<uint16_t> content_format;
  Bytes payload;
  std::vector<std::string> location_path;
  // The sequence number of a notification (24 bits).
  std::optional<uint32_t> observe = std::nullopt;
};

}  // namespace hil::lwm2m
