// LwM2M paths: /obj[/inst[/res[/res-inst]]].
// Every error here is ErrorCode::kInvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/result.h"

namespace hil::lwm2m {

struct Path {
  std::optional<uint16_t> obj, inst, res, riid;

  static Path root() { return {}; }
  // Accepts "/", "/3", "/3/0/1"; ids must fit 16 bits (65535 is reserved).
  static Result<Path> parse(const std::string& text);
  static Result<Path> from_segments(const std::vector<std::string>& segments);

  // How many ids are set: 0 for "/", 3 for "/3/0/1".
  int depth() const;
  std::string str() const;
  bool operator==(const Path& o) const {
    return obj == o.obj && inst == o.inst && res == o.res && riid == o.riid;
  }
};

}  // namespace hil::lwm2m
