#include "emulator/server/psk_table.h"

#include "emulator/server/bootstrap_config.h"

namespace hil::server {
namespace {

constexpr const char kPlaceholder[] = "{endpoint}";
constexpr size_t kPlaceholderLen = sizeof(kPlaceholder) - 1;

// The endpoint name `identity` carries under `c`'s template, if it fits;
// for a literal identity, the identity matched and any endpoint may follow.
std::optional<std::string> match_identity(const PskCredential& c, const std::string& identity) {
  size_t at = c.identity.find(kPlaceholder);
  if (at == std::string::npos) {
    if (identity != c.identity) return std::nullopt;
    return std::string();
  }
  const std::string prefix = c.identity.substr(0, at);
  const std::string suffix = c.identity.substr(at + kPlaceholderLen);
  if (identity.size() <= prefix.size() + suffix.size() ||
      identity.compare(0, prefix.size(), prefix) ||
      identity.compare(identity.size() - suffix.size(), suffix.size(), suffix)) {
    return std::nullopt;
  }
  std::string ep = identity.substr(prefix.size(), identity.size() - prefix.size() - suffix.size());
  if (!glob_match(c.match, ep)) return std::nullopt;
  return ep;
}

}  // namespace

std::optional<std::vector<uint8_t>> PskTable::key_for(const std::string& identity) const {
  for (const PskCredential& c : entries_)
    if (match_identity(c, identity)) return c.key;
  return std::nullopt;
}

bool PskTable::allows(const std::string& identity, const std::string& endpoint) const {
  for (const PskCredential& c : entries_) {
    std::optional<std::string> ep = match_identity(c, identity);
    if (!ep) continue;
    return ep->empty() ? glob_match(c.match, endpoint) : *ep == endpoint;
  }
  return false;
}

std::optional<std::string> PskTable::refusal(bool dtls, const std::string& identity,
                                             const std::string& endpoint) const {
  bool covered = false;
  for (const PskCredential& c : entries_) covered |= glob_match(c.match, endpoint);
  if (!dtls) {
    if (!covered) return std::nullopt;
    return "NoSec, but " + endpoint + " must use DTLS with a pre-shared key";
  }
  if (!covered) return "DTLS, but " + endpoint + " has no pre-shared key here (NoSec only)";
  if (!allows(identity, endpoint))
    return "PSK identity \"" + identity + "\" may not act as " + endpoint;
  return std::nullopt;
}

std::string PskTable::endpoint_of(const std::string& identity) const {
  for (const PskCredential& c : entries_)
    if (std::optional<std::string> ep = match_identity(c, identity)) return *ep;
  return {};
}

}  // namespace hil::server
