// Who may connect over DTLS with which pre-shared key, and as which
// endpoints. An identity may contain "{endpoint}": "dev-{endpoint}" then
// stands for one identity per endpoint the entry's glob matches, so a
// fleet needs one entry, not one per device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hil::server {

struct PskCredential {
  std::string match = "*";  // glob over the endpoint names this identity may use
  std::string identity;     // literal, or a template with "{endpoint}"
  std::vector<uint8_t> key;
};

class PskTable {
 public:
  void add(PskCredential c) { entries_.push_back(std::move(c)); }
  bool empty() const { return entries_.empty(); }

  // The key of the first entry that knows `identity`.
  std::optional<std::vector<uint8_t>> key_for(const std::string& identity) const;
  // Whether a client that authenticated as `identity` may act as `endpoint`.
  bool allows(const std::string& identity, const std::string& endpoint) const;
  // Why a client may not act as `endpoint`, or nullopt when it may: an
  // endpoint some entry's glob covers must come over DTLS with an identity
  // allowed for it; any other must come without DTLS.
  std::optional<std::string> refusal(bool dtls, const std::string& identity,
                                     const std::string& endpoint) const;
  // The endpoint a templated identity names ("" when it names none), so a
  // failed handshake can be charged to an endpoint.
  std::string endpoint_of(const std::string& identity) const;

 private:
  std::vector<PskCredential> entries_;
};

}  // namespace hil::server
