#include "emulator/lwm2m/client/factory.h"

#include "emulator/lwm2m/model/object_def.h"

namespace hil::lwm2m {

ObjectTree factory_tree(const Factory& f, const std::string& endpoint) {
  ObjectTree t;
  if (!f.bootstrap_uri.empty()) {
    t.set(kSecurity, 0, security::kUri, f.bootstrap_uri);
    t.set(kSecurity, 0, security::kBootstrapServer, true);
    if (!f.bootstrap_cert.empty()) {
      t.set(kSecurity, 0, security::kMode, security::kModeCert);
      t.set(kSecurity, 0, security::kIdentity, f.bootstrap_cert);
      t.set(kSecurity, 0, security::kServerKey, f.bootstrap_server_cert);
      t.set(kSecurity, 0, security::kSecretKey, f.bootstrap_cert_key);
    } else if (f.bootstrap_psk_key.empty()) {
      t.set(kSecurity, 0, security::kMode, security::kModeNoSec);
    } else {
      std::string identity = with_endpoint(f.bootstrap_psk_identity, endpoint);
      t.set(kSecurity, 0, security::kMode, security::kModePsk);
      t.set(kSecurity, 0, security::kIdentity, Bytes(identity.begin(), identity.end()));
      t.set(kSecurity, 0, security::kSecretKey, f.bootstrap_psk_key);
    }
    t.set(kSecurity, 0, security::kHoldOff, f.hold_off_s);
  }
  t.set(kDevice, 0, device::kManufacturer, f.manufacturer);
  t.set(kDevice, 0, device::kModel, f.model);
  t.set(kDevice, 0, device::kSerial, f.serial.empty() ? endpoint : f.serial);
  t.set(kDevice, 0, device::kFirmware, f.firmware);
  t.set(kDevice, 0, device::kBindings, std::string("U"));
  if (!f.server_uri.empty()) {
    t.set(kSecurity, 1, security::kUri, f.server_uri);
    t.set(kSecurity, 1, security::kBootstrapServer, false);
    t.set(kSecurity, 1, security::kMode, security::kModeNoSec);
    t.set(kSecurity, 1, security::kShortServerId, f.server_ssid);
    t.set(kServer, 0, server::kShortServerId, f.server_ssid);
    t.set(kServer, 0, server::kLifetime, f.server_lifetime_s);
    t.set(kServer, 0, server::kBinding, std::string("U"));
  }
  return t;
}

std::string with_endpoint(std::string text, const std::string& endpoint) {
  static const std::string kPlaceholder = "{endpoint}";
  if (size_t at = text.find(kPlaceholder); at != std::string::npos)
    text.replace(at, kPlaceholder.size(), endpoint);
  return text;
}

}  // namespace hil::lwm2m
