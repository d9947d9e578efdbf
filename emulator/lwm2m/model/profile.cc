#include "emulator/lwm2m/model/profile.h"

namespace hil::lwm2m {

const char* to_string(Profile p) {
  switch (p) {
    case Profile::Cr:
      return "cr";
    case Profile::V1_0:
      return "1.0";
    case Profile::V1_1:
      return "1.1";
  }
  return "?";
}

std::optional<Profile> parse_profile(const std::string& text) {
  for (Profile p : {Profile::Cr, Profile::V1_0, Profile::V1_1}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

}  // namespace hil::lwm2m
