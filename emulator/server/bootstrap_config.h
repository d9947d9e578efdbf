// The bootstrap server's configuration: which endpoints get which commands.
// Parsed from JSON (README.md in this directory documents the format); every
// value is checked against the builtin object definitions at parse time, so
// a session never meets a configuration error halfway through.
// Every error here is ErrorCode::kInvalidArgument, naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/profile.h"
#include "emulator/server/psk_table.h"

namespace hil::server {

enum class FinishPolicy {
  Auto,  // per profile: in cr only when the request carried Finish=true
  Always,
  Never,
};

struct EndpointConfig {
  std::string match;  // glob over the endpoint name: * and ?
  // nullopt: the server's default, else what the request says (see
  // BootstrapServerCore).
  std::optional<lwm2m::Profile> profile;
  // Discovers and Reads (GET, Accept 40 or the Writes' format), Deletes,
  // then the servers' writes, then the explicit writes, encoded
  // and ready to send, Writes in TLV or in the fixed `content_format`.
  // Bootstrap-Finish is not among them: whether it follows depends on the
  // request (profile cr).
  std::vector<lwm2m::Request> commands;
  // The same commands with their Writes in SenML-JSON (110) and SenML-CBOR
  // (112), for a client whose Request Bootstrap asks for one with `pct`.
  // Empty when the entry fixes its content_format.
  std::map<uint16_t, std::vector<lwm2m::Request>> by_format;
  // The entry's "content_format", which no `pct` overrides; nullopt: TLV
  // unless the request's `pct` asks for SenML.
  std::optional<uint16_t> content_format;
  // Indexes into `commands` marked "optional": an error answer to them
  // does not fail the session.
  std::set<size_t> optional;
  FinishPolicy finish = FinishPolicy::Auto;
  // Set: the endpoint must come over DTLS with this credential; unset: NoSec.
  std::optional<PskCredential> psk;
  // The endpoint must come over DTLS with a certificate in its own name
  // (security_mode "x509"), one the server trusts.
  bool x509 = false;
};

struct BootstrapConfig {
  std::vector<EndpointConfig> endpoints;

  // The first entry whose glob matches, or nullptr.
  const EndpointConfig* find(const std::string& endpoint) const;
  // The credentials of every entry with security_mode "psk", in order.
  PskTable psk_table() const;
};

Result<BootstrapConfig> parse_bootstrap_config(const std::string& json_text);

// Whole-string glob: '*' matches any run of characters, '?' exactly one.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace hil::server
