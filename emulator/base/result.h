// Errors as values: the client core and the codecs also build for firmware
// without exceptions, so every fallible call returns a Result. An Error is a
// code, which callers branch on, and a message, which people read; nothing
// branches on the message. Each public function's comment lists the codes it
// returns (emulator/README.md, "Errors").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace hil {

// What went wrong, as far as a caller acts on it (in the manner of
// pw::Status, without its OK: a Result's success is its value).
enum class ErrorCode : uint8_t {
  kInvalidArgument,     // bad input: a value, a key, a URI, a payload; the message names it
  kUnsupported,         // valid, but not offered here (a content format, a device without flash)
  kFailedPrecondition,  // not in a state for it (store not mounted, QEMU already running)
  kResourceExhausted,   // no room left: flash sectors, sequence numbers, file descriptors
  kTimeout,             // no answer in time
  kUnavailable,         // a peer or the network refused, reset or is gone
  kPowerLost,           // the emulated flash lost power: nothing past the cut was done
  kIo,                  // an operating-system call failed (file, socket, fork)
  kDataLoss,            // data did not verify or does not decode where it was stored
  kInternal,            // a broken invariant: a bug
};

// The code's name in snake case ("invalid_argument"), as Python shows it.
constexpr const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kPowerLost:
      return "power_lost";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kDataLoss:
      return "data_loss";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // says what is wrong and, where it can, what to change

  // The same error with `context` (e.g. "capture: ") in front of its message:
  // a caller says where it happened and keeps the code.
  Error prefixed(const std::string& context) const { return Error{code, context + message}; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  // True when this failed with `c`.
  bool is(ErrorCode c) const { return !ok() && error().code == c; }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace hil

// HIL_TRY(expr): evaluates a Result or Status; on failure returns its Error
// from the enclosing function (which returns a Result or Status).
#define HIL_TRY(expr)                                     \
  do {                                                    \
    auto hil_try_result_ = (expr);                        \
    if (!hil_try_result_) return hil_try_result_.error(); \
  } while (0)

// HIL_TRY_ASSIGN(lhs, expr): evaluates a Result<T>; on failure returns its
// Error, else moves its value into `lhs`, a declaration (`auto x`) or a
// variable. It expands to several statements: never the body of an
// unbraced if or loop.
#define HIL_TRY_ASSIGN(lhs, expr) \
  HIL_TRY_ASSIGN_IMPL_(HIL_TRY_CONCAT_(hil_try_result_, __LINE__), lhs, expr)
#define HIL_TRY_ASSIGN_IMPL_(result, lhs, expr) \
  auto result = (expr);                         \
  if (!result) return result.error();           \
  lhs = std::move(result).value()
#define HIL_TRY_CONCAT_(a, b) HIL_TRY_CONCAT_IMPL_(a, b)
#define HIL_TRY_CONCAT_IMPL_(a, b) a##b
