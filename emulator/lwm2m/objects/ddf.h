// A user's object definitions from DDF XML files (OMA's LWM2M.xsd), read on
// the host with expat. The firmware never parses XML: its builtin objects are
// generated from the DDF files in this folder at build time (ddf_to_cc.py).
// Every error here is ErrorCode::kInvalidArgument (an unreadable file too:
// the path is the caller's input).
#pragma once

#include <string>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/model/object_def.h"

namespace hil::lwm2m::ddf {

// The one <Object> of a DDF document; `name` (a file name) starts every error
// message, with the line: malformed XML, a missing or unknown <Type>,
// <Operations>, <MultipleInstances> or <Mandatory>, an id that is not
// 0..65534, a resource id given twice.
Result<ObjectDef> parse(const char* data, size_t len, const std::string& name);

// parse() of a file's contents; errors also when it cannot be read.
Result<ObjectDef> load(const std::string& path);

// The builtin registry plus the objects of `paths`. Errors: a file as
// load(), or an object id that is builtin or given twice.
Result<ObjectRegistry> registry_with(const std::vector<std::string>& paths);

}  // namespace hil::lwm2m::ddf
