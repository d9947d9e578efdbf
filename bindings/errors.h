// lwm2m_hil's exceptions: the one place where a C++ Error's code becomes a
// Python exception type (emulator/README.md, "Errors").
#pragma once

#include <pybind11/pybind11.h>

#include "emulator/base/result.h"

namespace hil::bindings {

// Adds Error and its subclasses to the module: ConfigError (ValueError),
// NotSupportedError (NotImplementedError), StateError (RuntimeError),
// TimeoutError (builtins.TimeoutError) and OSError (builtins.OSError).
void register_errors(pybind11::module_& m);

// Raises the exception for `e.code` with `e.message`; its `code` attribute
// is the code's name ("invalid_argument").
[[noreturn]] void raise_error(const Error& e);

}  // namespace hil::bindings
