#include "emulator/lwm2m/client/accounts.h"

namespace hil::lwm2m {
namespace {

bool is_bootstrap(const ObjectTree& t, uint16_t inst) {
  return t.get<bool>(kSecurity, inst, security::kBootstrapServer).value_or(false);
}

std::optional<Account> account_of(const ObjectTree& t, uint16_t inst) {
  auto uri = t.get<std::string>(kSecurity, inst, security::kUri);
  auto mode = t.get<int64_t>(kSecurity, inst, security::kMode);
  if (!uri || uri->empty() || !mode) return std::nullopt;
  Account a;
  a.bootstrap = is_bootstrap(t, inst);
  a.uri = *uri;
  a.security_mode = *mode;
  auto ssid = t.get<int64_t>(kSecurity, inst, security::kShortServerId);
  if (ssid && *ssid > 0 && *ssid < 65535) a.ssid = static_cast<uint16_t>(*ssid);
  auto id = t.get<Bytes>(kSecurity, inst, security::kIdentity);
  if (id) a.psk_identity.assign(id->begin(), id->end());
  a.psk_key = t.get<Bytes>(kSecurity, inst, security::kSecretKey).value_or(Bytes{});
  a.server_public_key = t.get<Bytes>(kSecurity, inst, security::kServerKey).value_or(Bytes{});
  switch (a.security_mode) {
    case security::kModeNoSec:
      return a;
    case security::kModePsk:
      if (a.psk_identity.empty() || a.psk_key.empty()) return std::nullopt;
      return a;
    case security::kModeRpk:
    case security::kModeCert:
      if (a.psk_key.empty() || !t.get<Bytes>(kSecurity, inst, security::kServerKey))
        return std::nullopt;
      return a;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<uint16_t> bootstrap_instance(const ObjectTree& t) {
  if (const Instances* sec = t.object(kSecurity)) {
    for (const auto& [inst, _] : *sec)
      if (is_bootstrap(t, inst)) return inst;
  }
  return std::nullopt;
}

std::optional<Account> bootstrap_account(const ObjectTree& t) {
  auto inst = bootstrap_instance(t);
  return inst ? account_of(t, *inst) : std::nullopt;
}

std::optional<uint16_t> server_instance(const ObjectTree& t, uint16_t ssid) {
  if (const Instances* srv = t.object(kServer)) {
    for (const auto& [inst, _] : *srv)
      if (t.get<int64_t>(kServer, inst, server::kShortServerId) == ssid) return inst;
  }
  return std::nullopt;
}

std::optional<Account> server_account(const ObjectTree& t) {
  const Instances* sec = t.object(kSecurity);
  if (sec == nullptr) return std::nullopt;
  for (const auto& [inst, _] : *sec) {
    if (is_bootstrap(t, inst)) continue;
    auto a = account_of(t, inst);
    if (a && a->ssid != 0 && server_instance(t, a->ssid)) return a;
  }
  return std::nullopt;
}

}  // namespace hil::lwm2m
