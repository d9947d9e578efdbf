#include "emulator/qemu/wire_state.h"

#include <algorithm>

#include "emulator/radio/coap_peek.h"

namespace hil::qemu {
namespace {

constexpr uint8_t kPost = 2;
constexpr uint8_t kCreated = 2 * 32 + 1;  // 2.01
// Enough for one request of each kind and their retransmissions' peers; an
// answer older than this is one the device stopped waiting for.
constexpr size_t kMaxPending = 8;

uint8_t code_class(uint8_t code) { return code >> 5; }

std::string code_text(uint8_t code) {
  std::string detail = std::to_string(code % 32);
  return std::to_string(code_class(code)) + (detail.size() < 2 ? ".0" : ".") + detail;
}

}  // namespace

std::optional<WireState::Kind> WireState::pending_kind(const std::vector<uint8_t>& token) const {
  for (const auto& p : pending_)
    if (p.token == token) return p.kind;
  return std::nullopt;
}

void WireState::remember(std::vector<uint8_t> token, Kind kind) {
  if (pending_kind(token)) return;  // a retransmission
  if (pending_.size() == kMaxPending) pending_.pop_front();
  pending_.push_back(Pending{std::move(token), kind});
}

void WireState::forget(const std::vector<uint8_t>& token) {
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Pending& p) { return p.token == token; }),
                 pending_.end());
}

std::optional<WireChange> WireState::on_uplink(const uint8_t* data, size_t len) {
  auto m = radio::peek_coap(data, len);
  if (!m) return std::nullopt;
  if (m->code == kPost && m->path == "/bs") {
    if (pending_kind(m->token)) return std::nullopt;  // a retransmission
    remember(m->token, Kind::RequestBootstrap);
    if (bootstrapping_ && accepted_) {
      accepted_ = false;
      return WireChange{lwm2m::State::Bootstrapping, lwm2m::BootstrapExit::FinishTimeout,
                        "a new Request Bootstrap with no Finish answered since the last was "
                        "accepted"};
    }
    if (bootstrapping_) return std::nullopt;  // the last one went unanswered: a retry
    bootstrapping_ = true;
    return WireChange{lwm2m::State::Bootstrapping, std::nullopt, "Request Bootstrap sent"};
  }
  if (m->code == kPost && m->path == "/rd") {
    if (pending_kind(m->token)) return std::nullopt;  // a retransmission
    remember(m->token, Kind::Register);
    if (bootstrapping_) {
      bootstrapping_ = false;
      return WireChange{lwm2m::State::Registering, lwm2m::BootstrapExit::IdleTimeout,
                        "Register sent with no Finish answered since Request Bootstrap"};
    }
    return WireChange{lwm2m::State::Registering, std::nullopt, "Register sent"};
  }
  if (!radio::is_request(m->code) && code_class(m->code) == 2 && bootstrapping_ &&
      pending_kind(m->token) == Kind::Finish) {
    bootstrapping_ = false;
    return WireChange{lwm2m::State::Bootstrapped, lwm2m::BootstrapExit::Finish,
                      "Finish answered " + code_text(m->code)};
  }
  return std::nullopt;
}

std::optional<WireChange> WireState::on_downlink(const uint8_t* data, size_t len) {
  auto m = radio::peek_coap(data, len);
  if (!m) return std::nullopt;
  if (m->code == kPost && m->path == "/bs") {
    remember(m->token, Kind::Finish);
    return std::nullopt;
  }
  if (radio::is_request(m->code) || m->code == 0) return std::nullopt;
  auto kind = pending_kind(m->token);
  if (kind == Kind::RequestBootstrap && code_class(m->code) == 2) accepted_ = true;
  if (kind == Kind::RequestBootstrap && code_class(m->code) == 4 && bootstrapping_) {
    bootstrapping_ = false;
    return WireChange{std::nullopt, lwm2m::BootstrapExit::Rejected,
                      "Request Bootstrap answered " + code_text(m->code)};
  }
  if (kind == Kind::Register && m->code == kCreated) {
    forget(m->token);  // a duplicated 2.01 is not a second registration
    return WireChange{lwm2m::State::Registered, std::nullopt, "Register answered 2.01"};
  }
  return std::nullopt;
}

std::optional<std::string> ExitCheck::add(Source from, lwm2m::BootstrapExit exit) {
  auto& mine = exits_[from];
  const auto& theirs = exits_[from == kUart ? kWire : kUart];
  mine.push_back(exit);
  size_t n = mine.size() - 1;
  if (n >= theirs.size() || theirs[n] == exit) return std::nullopt;
  return "exit " + std::to_string(n + 1) + " of this boot: " + (from == kUart ? "UART" : "wire") +
         " says " + lwm2m::to_string(exit) + ", " + (from == kUart ? "wire" : "UART") + " says " +
         lwm2m::to_string(theirs[n]);
}

}  // namespace hil::qemu
