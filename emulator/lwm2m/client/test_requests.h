// Bootstrap-server requests as a server sends them, for the tests of the
// client core and of its driver.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "emulator/lwm2m/codec/content.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/object_def.h"
#include "emulator/lwm2m/model/object_tree.h"

namespace hil::lwm2m::test {

// Write (PUT, TLV) of instance `inst` of object `obj`.
inline Request put(uint16_t obj, uint16_t inst, const Instance& data) {
  Path p{obj, inst, {}, {}};
  auto body = content::encode(*ObjectRegistry::builtin().find(obj), p, Instances{{inst, data}},
                              format::kTlv);
  EXPECT_TRUE(body.ok());
  Request r;
  r.method = Method::Put;
  r.path = {std::to_string(obj), std::to_string(inst)};
  r.content_format = format::kTlv;
  r.payload = *body;
  return r;
}

// Bootstrap-Finish (POST /bs).
inline Request finish() {
  Request r;
  r.method = Method::Post;
  r.path = {"bs"};
  return r;
}

}  // namespace hil::lwm2m::test
