// What a device leaves the factory with: its bootstrap account, optionally
// a server account (it then registers at once, ETS 1.1-int-6), and its
// Device object. Native devices and the firmware image build it alike.
#pragma once

#include <cstdint>
#include <string>

#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::lwm2m {

struct Factory {
  std::string bootstrap_uri;  // empty: no bootstrap account
  int64_t hold_off_s = 0;     // its Client Hold Off Time (/0/0/11)
  // Without a key, NoSec; with one, PSK. "{endpoint}" in the identity
  // becomes the device's endpoint name.
  std::string bootstrap_psk_identity;
  Bytes bootstrap_psk_key;
  // With a certificate (DER), certificate mode instead: the device's
  // certificate and private key, and what the bootstrap server's
  // certificate must chain to (/0/0/3, /0/0/5, /0/0/4).
  Bytes bootstrap_cert, bootstrap_cert_key, bootstrap_server_cert;
  std::string server_uri;  // empty: no server account
  int64_t server_ssid = 1;
  int64_t server_lifetime_s = 300;
  std::string manufacturer = "lwm2m-hil";
  std::string model = "virtual-device";
  std::string serial;  // empty: the endpoint name
  std::string firmware = "1.0";
};

// Objects 0, 1 and 3 as `f` describes them, for the device `endpoint`.
ObjectTree factory_tree(const Factory& f, const std::string& endpoint);

// `text` with "{endpoint}" replaced by `endpoint`: one template (a PSK
// identity, a flash image's path) serves a whole fleet.
std::string with_endpoint(std::string text, const std::string& endpoint);

}  // namespace hil::lwm2m
