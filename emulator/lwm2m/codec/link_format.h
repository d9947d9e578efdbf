// CoRE link format (RFC 6690, content format 40): the payload of Register and
// of Discover answers, e.g. </>;lwm2m="1.0",</1/0>;ssid=101,</3/0>.
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emulator/base/result.h"

namespace hil::lwm2m {

struct Link {
  std::string target;  // the URI between < and >
  // In order; an empty value is written as a bare name (";obs").
  std::vector<std::pair<std::string, std::string>> attrs;

  bool operator==(const Link& o) const { return target == o.target && attrs == o.attrs; }
};

// Integer values go bare (ct=11543, ssid=101), all others quoted
// (lwm2m="1.0", uri="coap://..."), with '"' and '\' escaped. RFC 6690 reads
// both forms alike. Targets must not contain '>' (LwM2M paths never do).
std::string encode_links(const std::vector<Link>& links);

// Accepts both value forms and whitespace around ',', ';' and '='. An empty
// input is an empty list. Rejects a missing '<' or '>', empty or whitespace-
// holding targets, attribute names outside RFC 5987 parmname characters,
// unterminated quotes, empty bare values and anything between links that is
// not ',' or ';'.
Result<std::vector<Link>> parse_links(std::string_view text);

}  // namespace hil::lwm2m
