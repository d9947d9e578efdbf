#include "bindings/errors.h"

#include <string>

namespace py = pybind11;

namespace hil::bindings {
namespace {

// Owned by the module once registered; kept here for raise_error().
PyObject* g_base = nullptr;
PyObject* g_config = nullptr;
PyObject* g_unsupported = nullptr;
PyObject* g_state = nullptr;
PyObject* g_timeout = nullptr;
PyObject* g_os = nullptr;

PyObject* add(py::module_& m, const char* name, const char* doc, py::tuple bases,
              const char* code) {
  py::dict attrs;
  attrs["code"] = code;  // the instance's code overrides it
  PyObject* type = PyErr_NewExceptionWithDoc((std::string("lwm2m_hil.") + name).c_str(), doc,
                                             bases.ptr(), attrs.ptr());
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;
}

PyObject* type_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return g_config;
    case ErrorCode::kUnsupported:
      return g_unsupported;
    case ErrorCode::kFailedPrecondition:
      return g_state;
    case ErrorCode::kTimeout:
      return g_timeout;
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kUnavailable:
    case ErrorCode::kPowerLost:
    case ErrorCode::kIo:
    case ErrorCode::kDataLoss:
      return g_os;
    case ErrorCode::kInternal:
      break;
  }
  return g_base;
}

}  // namespace

void register_errors(py::module_& m) {
  auto with = [](PyObject* base, PyObject* builtin) {
    return py::make_tuple(py::handle(base), py::handle(builtin));
  };
  g_base = add(m, "Error",
               "An error from the emulator; `code` names it (e.g. 'invalid_argument') and the "
               "message says what to change.",
               py::make_tuple(py::handle(PyExc_Exception)), "internal");
  g_config = add(m, "ConfigError", "A bad value, key, URI or file given by the caller.",
                 with(g_base, PyExc_ValueError), "invalid_argument");
  g_unsupported =
      add(m, "NotSupportedError", "Valid, but not offered by this device, image or emulator.",
          with(g_base, PyExc_NotImplementedError), "unsupported");
  g_state = add(m, "StateError", "Not in a state for it (e.g. already running).",
                with(g_base, PyExc_RuntimeError), "failed_precondition");
  g_timeout =
      add(m, "TimeoutError", "No answer in time.", with(g_base, PyExc_TimeoutError), "timeout");
  g_os = add(m, "OSError",
             "The system, the network or the emulated flash failed or ran out of room; `code` "
             "says which (io, resource_exhausted, unavailable, power_lost, data_loss).",
             with(g_base, PyExc_OSError), "io");
}

void raise_error(const Error& e) {
  py::handle type(type_of(e.code));
  py::object exc = type(e.message);
  exc.attr("code") = to_string(e.code);
  PyErr_SetObject(type.ptr(), exc.ptr());
  throw py::error_already_set();
}

}  // namespace hil::bindings
