// The bootstrap dialects of PROTOCOL.md ("Profiles").
#pragma once

#include <optional>
#include <string>

namespace hil::lwm2m {

enum class Profile {
  Cr,    // the change request: Finish only when the client asks for it
  V1_0,  // Bootstrap-Finish always
  V1_1,  // as 1.0, Request Bootstrap carries pct
};

const char* to_string(Profile p);  // "cr", "1.0", "1.1"
std::optional<Profile> parse_profile(const std::string& text);

}  // namespace hil::lwm2m
