#include "emulator/lwm2m/model/message.h"

namespace hil::lwm2m {

std::string to_string(Code c) {
  const auto v = static_cast<uint8_t>(c);
  const unsigned detail = v & 0x1f;
  std::string s = std::to_string(v >> 5) + ".";
  if (detail < 10) s += '0';
  return s + std::to_string(detail);
}

std::string to_string(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Delete:
      return "DELETE";
  }
  return "METHOD(" + std::to_string(static_cast<int>(m)) + ")";
}

std::string Request::uri_path() const {
  if (path.empty()) return "/";
  std::string s;
  for (const std::string& segment : path) s += "/" + segment;
  return s;
}

std::string to_string(const Request& r) {
  std::string s = to_string(r.method) + " " + r.uri_path();
  for (size_t i = 0; i < r.query.size(); ++i) s += (i == 0 ? "?" : "&") + r.query[i];
  return s;
}

std::optional<std::string> Request::query_param(const std::string& key) const {
  for (const std::string& item : query) {
    if (item == key) return std::string();
    if (item.size() > key.size() && item.compare(0, key.size(), key) == 0 &&
        item[key.size()] == '=') {
      return item.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace hil::lwm2m
