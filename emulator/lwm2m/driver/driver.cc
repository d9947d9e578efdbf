#include "emulator/lwm2m/driver/driver.h"

namespace hil::lwm2m {

Driver::Driver(ClientConfig client, const DriverConfig& config, Timers& timers,
               Transport& transport, Store& store, Listener& listener)
    : client_(std::move(client)),
      config_(config),
      timers_(timers),
      transport_(transport),
      store_(store),
      listener_(listener),
      wake_(timers, [this] {
        core_->on_timeout(now());
        pump();
      }) {}

void Driver::start(ObjectTree config, const ObjectRegistry& objects) {
  stop();
  core_.emplace(client_, std::move(config), objects);
  running_ = true;
  core_->start(now());
  pump();
}

void Driver::stop() {
  running_ = false;
  for (const auto& [id, timer] : watchdogs_) timers_.cancel(timer);
  watchdogs_.clear();
  wake_.set(std::nullopt);
  timers_.cancel(linger_timer_);
  linger_timer_ = 0;
  bootstrap_key_.clear();
}

std::optional<Response> Driver::on_request(Origin from, const Request& r) {
  if (!running_) return std::nullopt;
  if (config_.record_messages) record("rx", to_string(r));
  commit_failed_ = false;  // a failed commit of an idle-timer exit is no answer's business
  Response resp = core_->on_request(now(), from, r);
  // Commits reach flash before the answer leaves (durable before acknowledged).
  pump();
  if (!running_) return std::nullopt;
  if (commit_failed_) resp = Response{Code::InternalError, {}, {}, {}};
  if (config_.record_messages) record("tx", to_string(resp.code));
  return resp;
}

void Driver::on_response(uint64_t id, const Response& r) {
  settle_exchange(id);
  if (!running_) return;
  if (config_.record_messages) record("rx", to_string(r.code));
  core_->on_response(now(), id, r);
  pump();
}

void Driver::on_failure(uint64_t id, const std::string& reason) {
  settle_exchange(id);
  if (!running_) return;
  record("tx_failed", reason);
  core_->on_failure(now(), id, reason);
  pump();
}

void Driver::on_notify_failed(const Bytes& token, const std::string& reason) {
  if (!running_) return;
  core_->on_notify_failed(now(), token, reason);
  pump();
}

void Driver::sent(const SendRequest& req, bool handshake) {
  if (!running_) return;
  if (config_.record_messages) record("tx", to_string(req.request));
  watch_exchange(req.id, session_key(req.to), handshake);
}

void Driver::not_sent(const SendRequest& req, const std::string& why) {
  settle_exchange(req.id);
  if (!running_) return;
  record("tx", to_string(req.request) + " (not sent: " + why + ")");
  core_->on_failure(now(), req.id, why);
}

void Driver::deregister() {
  if (!running_) return;
  core_->deregister(now());
  pump();
}

Status Driver::set_resource(const std::string& path, const std::string& text) {
  if (!running_) return Error{ErrorCode::kFailedPrecondition, client_.endpoint + " is off"};
  Status st = core_->set_resource(now(), path, text);
  pump();
  return st;
}

void Driver::pump() {
  State before = state_;  // as of the last pump: the core may have moved since
  BootstrapExit exit_before = exit_;
  while (running_) {
    auto action = core_->poll();
    if (!action) break;
    if (auto* req = std::get_if<SendRequest>(&*action)) {
      if (req->to.bootstrap) bootstrap_key_ = session_key(req->to);
      transport_.send(*req);
    } else if (auto* e = std::get_if<Event>(&*action)) {
      listener_.on_event(std::move(*e));
    } else if (auto* c = std::get_if<Commit>(&*action)) {
      commit(c->config);
    } else if (auto* n = std::get_if<Notify>(&*action)) {
      notify(*n);
    }
  }
  if (!running_) return;  // what the core still wanted died with its RAM
  state_ = core_->state();
  exit_ = core_->last_exit();
  if (state_ != before) after_state_change(before);
  wake_.set(core_->next_deadline());
  if (state_ != before || exit_ != exit_before) listener_.on_change(before);
}

void Driver::commit(const ObjectTree& config) {
  Status st = store_.commit(config);
  if (st) return;
  if (st.is(ErrorCode::kPowerLost)) {
    listener_.on_power_lost();
    return;
  }
  // Not durable, so not acknowledged: on_request answers 5.00, and the
  // core stays in bootstrap.
  commit_failed_ = true;
  core_->commit_failed(now(), st.error().message);
}

// On the session the observation came in on; gone with it, the
// notification is too, and the observation ends.
void Driver::notify(const Notify& n) {
  Status st = transport_.notify(n);
  if (!st) core_->on_notify_failed(now(), n.token, st.error().message);
}

void Driver::after_state_change(State from) {
  if (state_ == State::Bootstrapping) {
    timers_.cancel(linger_timer_);
    linger_timer_ = 0;
  } else if (from == State::Bootstrapping && !bootstrap_key_.empty()) {
    // One descriptor per device is the budget: the bootstrap session goes
    // once a retransmitted Finish can no longer arrive.
    timers_.cancel(linger_timer_);
    linger_timer_ = timers_.at(now() + config_.bootstrap_linger_ms, [this] {
      linger_timer_ = 0;
      // From now on the bootstrap server cannot reach the device (a
      // server-initiated bootstrap times out): the timeline says so.
      if (state_ != State::Bootstrapping && transport_.close(bootstrap_key_))
        record("bootstrap_session_released",
               std::to_string(config_.bootstrap_linger_ms) + " ms after bootstrap");
    });
  }
}

// libcoap answers every CON by MAX_TRANSMIT_WAIT: a response or a give-up.
// If neither came, the session is wedged (seen rarely under heavy loss); a
// device resets its transport and treats the request as failed, so its
// state machine moves on instead of waiting for ever.
void Driver::watch_exchange(uint64_t id, std::string key, bool handshake) {
  TimeMs deadline = now() + config_.max_transmit_wait_ms + 1000;
  // A DTLS handshake first takes up to as long again (the same timing).
  if (handshake) deadline += config_.max_transmit_wait_ms;
  watchdogs_[id] = timers_.at(deadline, [this, id, key = std::move(key)] {
    watchdogs_.erase(id);
    record("transport_reset",
           "no answer and no give-up from libcoap by MAX_TRANSMIT_WAIT; " + key + " reopened");
    transport_.close(key);
    core_->on_failure(now(), id, "no answer (transport reset)");
    pump();
  });
}

void Driver::settle_exchange(uint64_t id) {
  auto it = watchdogs_.find(id);
  if (it == watchdogs_.end()) return;
  timers_.cancel(it->second);
  watchdogs_.erase(it);
}

void Driver::record(std::string kind, std::string detail) {
  listener_.on_event(Event{now(), std::move(kind), std::move(detail)});
}

}  // namespace hil::lwm2m
