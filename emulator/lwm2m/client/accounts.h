// Reading server accounts out of the Security and Server objects.
#pragma once

#include <optional>

#include "emulator/lwm2m/client/client.h"

namespace hil::lwm2m {

// The Security instance flagged Bootstrap-Server (/0/x/1 = true).
std::optional<uint16_t> bootstrap_instance(const ObjectTree& t);
std::optional<Account> bootstrap_account(const ObjectTree& t);

// The first complete server account (ETS 1.1-int-9): a Security instance
// with /0/x/1 = false, a URI, a security mode with credentials that fit it,
// and a Server instance whose /1/y/0 equals the Security instance's /0/x/10.
std::optional<Account> server_account(const ObjectTree& t);

// The Server instance that carries `ssid`.
std::optional<uint16_t> server_instance(const ObjectTree& t, uint16_t ssid);

}  // namespace hil::lwm2m
