#include "emulator/lwm2m/client/client.h"

#include "emulator/lwm2m/client/accounts.h"
#include "emulator/lwm2m/codec/content.h"
#include "emulator/lwm2m/codec/link_format.h"

namespace hil::lwm2m {
namespace {

// Whether a Read's target exists. A missing instance, resource or resource
// instance is 4.04 Not Found; 4.06 would say the format cannot carry it.
bool names_data(const Instances& data, const Path& path) {
  if (!path.inst) return true;
  auto inst = data.find(*path.inst);
  if (inst == data.end()) return false;
  if (!path.res) return true;
  auto res = inst->second.find(*path.res);
  if (res == inst->second.end()) return false;
  return !path.riid || res->second.values.count(*path.riid) > 0;
}

// The value of a numeric single resource at `path`, for gt, lt and st.
std::optional<double> number_at(const ObjectTree& tree, const Path& path) {
  const Value* v = path.depth() == 3 ? tree.value(*path.obj, *path.inst, *path.res) : nullptr;
  if (v == nullptr) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  if (auto* u = std::get_if<uint64_t>(v)) return static_cast<double>(*u);
  if (auto* d = std::get_if<double>(v)) return *d;
  return std::nullopt;
}

}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::Factory:
      return "factory";
    case State::Bootstrapping:
      return "bootstrapping";
    case State::Bootstrapped:
      return "bootstrapped";
    case State::Registering:
      return "registering";
    case State::Registered:
      return "registered";
    case State::Failed:
      return "failed";
  }
  return "?";
}

const char* to_string(BootstrapExit e) {
  switch (e) {
    case BootstrapExit::None:
      return "none";
    case BootstrapExit::Finish:
      return "finish";
    case BootstrapExit::IdleTimeout:
      return "idle_timeout";
    case BootstrapExit::FinishTimeout:
      return "finish_timeout";
    case BootstrapExit::Rejected:
      return "rejected";
  }
  return "?";
}

Client::Client(ClientConfig config, ObjectTree stored, const ObjectRegistry& registry)
    : config_(std::move(config)),
      registry_(registry),
      live_(std::move(stored)),
      bootstrap_backoff_(config_.bootstrap_retry, config_.seed),
      register_backoff_(config_.register_retry, config_.seed ^ 0x5bd1e995ULL) {}

void Client::start(TimeMs now) {
  if (server_account(live_)) {
    begin_registration(now);  // ETS 1.1-int-6: configured, no bootstrap
    return;
  }
  auto bs = bootstrap_instance(live_);
  if (!bs || !bootstrap_account(live_)) {
    event(now, "error", "no server account and no bootstrap-server account");
    set_state(now, State::Failed);
    return;
  }
  auto hold_off = live_.get<int64_t>(kSecurity, *bs, security::kHoldOff).value_or(0);
  if (hold_off > 0) event(now, "hold_off", std::to_string(hold_off) + " s");
  begin_bootstrap(now, hold_off * 1000);
}

// --- timers -----------------------------------------------------------------

std::optional<TimeMs> Client::next_deadline() const {
  std::optional<TimeMs> d;
  for (const Timer* t : {&bootstrap_timer_, &retry_timer_, &update_timer_}) {
    if (t->at && (!d || *t->at < *d)) d = t->at;
  }
  if (auto o = observations_.next_deadline(); o && (!d || *o < *d)) d = o;
  return d;
}

void Client::on_timeout(TimeMs now) {
  if (bootstrap_timer_.due(now)) {
    bootstrap_timer_.at.reset();
    if (legacy_exit()) {
      request_commit(now, BootstrapExit::IdleTimeout);
    } else {
      bootstrap_failed(now, BootstrapExit::FinishTimeout,
                       "no Finish " + std::to_string(config_.finish_timeout_ms) +
                           " ms after the last bootstrap command");
    }
  }
  if (retry_timer_.due(now)) {
    retry_timer_.at.reset();
    if (retry_is_bootstrap_) {
      send_bootstrap_request(now);
    } else {
      send_register(now);
    }
  }
  if (update_timer_.due(now)) {
    update_timer_.at.reset();
    send_update(now);
  }
  check_observations(now);
}

// --- bootstrap --------------------------------------------------------------

void Client::begin_bootstrap(TimeMs now, TimeMs delay) {
  set_state(now, State::Bootstrapping);
  end_observations(now, "bootstrap");
  staged_.reset();
  update_timer_.at.reset();
  pending_.clear();  // answers to an abandoned registration or request are stale
  retry_is_bootstrap_ = true;
  retry_timer_.at = now + delay;
  finish_declined_ = false;
}

// Profile cr: ask for the finish indication unless the server refused it.
bool Client::asks_finish() const {
  return config_.profile == Profile::Cr && config_.request_finish && !finish_declined_;
}

// Profile cr without the finish indication: an idle timer guesses the end.
bool Client::legacy_exit() const { return config_.profile == Profile::Cr && !asks_finish(); }

// Could this refusal be about the Finish query alone? A server that does
// not know it refuses the whole request: 4.00 as the change request's table
// has it, 4.02 from one that treats an unknown (critical) Uri-Query as a bad
// option.
bool Client::refused_for_finish(Code refusal) const {
  return asks_finish() && (refusal == Code::BadRequest || refusal == Code::BadOption);
}

void Client::send_bootstrap_request(TimeMs now, bool fallback) {
  auto account = bootstrap_account(live_);
  if (!account) {
    event(now, "error", "the bootstrap-server account is gone");
    set_state(now, State::Failed);
    return;
  }
  if (!fallback) ++bootstrap_attempts_;  // the fallback is part of the same attempt
  staged_ = live_;
  Request r;
  r.method = Method::Post;
  r.path = {"bs"};
  r.query = {"ep=" + config_.endpoint};
  if (asks_finish()) r.query.push_back("Finish=true");
  if (config_.profile == Profile::V1_1)
    r.query.push_back("pct=" + std::to_string(config_.preferred_format));
  event(now, "bootstrap_request",
        "attempt " + std::to_string(bootstrap_attempts_) + (fallback ? ", without Finish" : ""));
  send(Pending::BootstrapRequest, *account, std::move(r));
}

// Any bootstrap-server command restarts the wait for Finish (or, in the
// legacy mode, the idle timer that guesses the end of bootstrap).
void Client::touch_bootstrap(TimeMs now) {
  bootstrap_timer_.at = now + (legacy_exit() ? config_.idle_timeout_ms : config_.finish_timeout_ms);
}

// A refused Request Bootstrap. One that carried Finish=true may have been
// refused for the query alone: with finish_fallback the client asks once
// more without it, at once (the server answered, it is there), and takes
// the legacy path; the refusal is then no exit of its own.
void Client::bootstrap_refused(TimeMs now, Code code) {
  const std::string answer = "Request Bootstrap answered " + to_string(code);
  if (refused_for_finish(code) && config_.finish_fallback) {
    finish_declined_ = true;
    event(now, "finish_fallback",
          answer + " to Finish=true: the server does not know the finish indication; asking " +
              "without it, an idle timer of " + std::to_string(config_.idle_timeout_ms) +
              " ms ends bootstrap");
    send_bootstrap_request(now, true);
  } else if (refused_for_finish(code)) {
    bootstrap_failed(now, BootstrapExit::Rejected,
                     answer + " (a server that does not know Finish=true answers so; " +
                         "finish_fallback would ask again without it)");
  } else if (finish_declined_) {
    bootstrap_failed(now, BootstrapExit::Rejected,
                     answer + " without Finish too: the refusal was not about the finish query");
  } else {
    bootstrap_failed(now, BootstrapExit::Rejected, answer);
  }
}

// What every way out of bootstrap shares: nothing staged, no timer, an
// answer to the abandoned Request Bootstrap is stale, and the exit counted.
void Client::end_bootstrap(TimeMs now, BootstrapExit how) {
  staged_.reset();
  bootstrap_timer_.at.reset();
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second == Pending::BootstrapRequest ? pending_.erase(it) : std::next(it);
  if (how == BootstrapExit::None) return;
  last_exit_ = how;
  ++exit_counts_[how];
  event(now, "bootstrap_exit", to_string(how));
}

// Leaving bootstrap starts with the Commit; the rest follows once the host
// made it durable (exit_bootstrap, from poll()), unless commit_failed().
void Client::request_commit(TimeMs now, BootstrapExit how) {
  Commit c;
  for (uint16_t obj : {kSecurity, kServer, kAccessControl}) {
    if (const Instances* i = staged_->object(obj)) c.config.objects()[obj] = *i;
  }
  actions_.emplace_back(std::move(c));
  committing_ = Committing{how, now};
}

void Client::commit_failed(TimeMs now, const std::string& why) {
  if (!committing_) return;
  committing_.reset();
  event(now, "commit_failed", why + "; still in bootstrap, the configuration staged");
  touch_bootstrap(now);
}

void Client::exit_bootstrap() {
  TimeMs now = committing_->at;
  BootstrapExit how = committing_->how;
  committing_.reset();
  live_ = std::move(*staged_);
  event(now, "commit", "configuration committed");
  end_bootstrap(now, how);
  set_state(now, State::Bootstrapped);
  bootstrap_backoff_.reset();
  bootstrap_attempts_ = 0;
  begin_registration(now);
}

void Client::bootstrap_failed(TimeMs now, BootstrapExit how, const std::string& why) {
  event(now, "bootstrap_failed", why);
  end_bootstrap(now, how);
  if (config_.max_bootstrap_attempts > 0 && bootstrap_attempts_ >= config_.max_bootstrap_attempts) {
    set_state(now, State::Failed);
    return;
  }
  TimeMs delay = bootstrap_backoff_.next();
  event(now, "retry", "bootstrap in " + std::to_string(delay) + " ms");
  begin_bootstrap(now, delay);
}

// SenML arrived with LwM2M 1.1; a 1.0 (or change-request) client does not
// speak it.
bool Client::format_allowed(uint16_t fmt) const {
  bool senml = fmt == format::kSenmlJson || fmt == format::kSenmlCbor;
  return !senml || config_.profile == Profile::V1_1;
}

Code Client::bootstrap_refusal() const {
  // The change request's table answers a refused Delete with 4.05; the
  // published 1.0 and 1.1 use 4.00.
  return config_.profile == Profile::Cr ? Code::MethodNotAllowed : Code::BadRequest;
}

Response Client::bootstrap_command(TimeMs now, const Request& req) {
  // In 1.0 a bootstrap server may write to a client that did not ask
  // (server-initiated bootstrap): its first Write or Delete opens bootstrap,
  // and Finish ends it as usual. Later profiles trigger it with /1/x/9.
  bool server_initiated = config_.profile == Profile::V1_0 && state_ != State::Bootstrapping &&
                          (req.method == Method::Put || req.method == Method::Delete);
  if (server_initiated) {
    event(now, "bootstrap_server_initiated",
          to_string(req.method) + " " + req.uri_path() + " without a Request Bootstrap (1.0)");
    set_state(now, State::Bootstrapping);
    update_timer_.at.reset();
    retry_timer_.at.reset();
    pending_.clear();  // answers to the registration it interrupts are stale
    staged_ = live_;
  } else if (config_.profile == Profile::V1_0 && state_ != State::Bootstrapping &&
             req.method == Method::Get) {
    // A server-initiated bootstrap may look before it writes: a Discover
    // (or a Read, which 1.0 refuses) changes nothing, so it is answered
    // from the live configuration and opens no bootstrap.
    auto path = Path::from_segments(req.path);
    Response resp =
        path ? bootstrap_get(live_, *path, req) : Response{Code::BadRequest, {}, {}, {}};
    event(now, "bootstrap_command",
          to_string(req.method) + " " + req.uri_path() + " -> " + to_string(resp.code) +
              " (outside bootstrap)");
    return resp;
  } else if (state_ != State::Bootstrapping || !staged_) {
    // A late or repeated Finish must never run the exit again.
    event(now, "ignored",
          to_string(req.method) + " " + req.uri_path() +
              " from the bootstrap server outside bootstrap");
    return {Code::MethodNotAllowed, {}, {}, {}};
  }
  touch_bootstrap(now);
  auto path = Path::from_segments(req.path);
  Response resp;
  if (req.method == Method::Post && req.path == std::vector<std::string>{"bs"}) {
    return bootstrap_finish(now, req);
  } else if (!path) {
    resp.code = Code::BadRequest;
  } else if (req.method == Method::Put) {
    resp = bootstrap_write(*path, req);
  } else if (req.method == Method::Delete) {
    resp = bootstrap_delete(*path);
  } else if (req.method == Method::Get) {
    resp = bootstrap_get(*staged_, *path, req);
  } else {
    resp.code = Code::MethodNotAllowed;
  }
  event(now, "bootstrap_command",
        to_string(req.method) + " " + req.uri_path() + " -> " + to_string(resp.code));
  return resp;
}

Response Client::bootstrap_write(const Path& path, const Request& req) {
  if (path.depth() == 0 || path.depth() > 3) return {Code::BadRequest, {}, {}, {}};
  const ObjectDef* def = registry_.find(*path.obj);
  if (def == nullptr) return {Code::NotFound, {}, {}, {}};
  uint16_t fmt = req.content_format.value_or(path.depth() == 3 ? format::kText : format::kTlv);
  if (!format_allowed(fmt)) return {Code::UnsupportedFormat, {}, {}, {}};
  auto data = content::decode_write(*def, path, fmt, req.payload.data(), req.payload.size());
  if (!data) {
    bool unsupported = data.error().code == ErrorCode::kUnsupported;
    const std::string& msg = data.error().message;
    return {unsupported ? Code::UnsupportedFormat : Code::BadRequest,
            format::kText,
            Bytes(msg.begin(), msg.end()),
            {}};
  }
  // Decoded in full before anything is applied: a bad payload leaves the
  // staged configuration as it was.
  for (const auto& [inst, instance] : *data) staged_->merge_instance(*path.obj, inst, instance);
  return {Code::Changed, {}, {}, {}};
}

Response Client::bootstrap_delete(const Path& path) {
  const auto bs = bootstrap_instance(*staged_);
  auto keep = [&](uint16_t obj, uint16_t inst) {
    return (obj == kSecurity && bs == inst) || (obj == kDevice && inst == 0);
  };
  auto erase_all_but_kept = [&](uint16_t obj) {
    auto& objects = staged_->objects();
    auto it = objects.find(obj);
    if (it == objects.end()) return;
    for (auto i = it->second.begin(); i != it->second.end();)
      i = keep(obj, i->first) ? std::next(i) : it->second.erase(i);
  };
  switch (path.depth()) {
    case 0:
      for (uint16_t obj : registry_.ids()) erase_all_but_kept(obj);
      return {Code::Deleted, {}, {}, {}};
    case 1:
      if (registry_.find(*path.obj) == nullptr) return {Code::NotFound, {}, {}, {}};
      erase_all_but_kept(*path.obj);
      return {Code::Deleted, {}, {}, {}};
    case 2:
      if (keep(*path.obj, *path.inst)) return {bootstrap_refusal(), {}, {}, {}};
      staged_->erase(*path.obj, *path.inst);
      return {Code::Deleted, {}, {}, {}};
    default:
      return {bootstrap_refusal(), {}, {}, {}};
  }
}

Response Client::bootstrap_get(const ObjectTree& tree, const Path& path, const Request& req) {
  if (config_.profile == Profile::Cr) return {Code::MethodNotAllowed, {}, {}, {}};
  if (path.depth() == 0 || req.accept == format::kLinkFormat) return bootstrap_discover(tree, path);
  return bootstrap_read(tree, path, req);
}

Response Client::bootstrap_discover(const ObjectTree& tree, const Path& path) const {
  if (path.depth() > 1) return {Code::BadRequest, {}, {}, {}};
  std::vector<Link> links;
  if (path.depth() == 0)
    links.push_back({"/", {{"lwm2m", config_.profile == Profile::V1_1 ? "1.1" : "1.0"}}});
  for (const auto& [obj, instances] : tree.objects()) {
    if (path.obj && *path.obj != obj) continue;
    if (instances.empty()) links.push_back({"/" + std::to_string(obj), {}});
    for (const auto& [inst, _] : instances) {
      Link l{"/" + std::to_string(obj) + "/" + std::to_string(inst), {}};
      std::optional<int64_t> ssid;
      if (obj == kSecurity && bootstrap_instance(tree) != inst)
        ssid = tree.get<int64_t>(obj, inst, security::kShortServerId);
      if (obj == kServer) ssid = tree.get<int64_t>(obj, inst, server::kShortServerId);
      if (ssid) l.attrs.push_back({"ssid", std::to_string(*ssid)});
      // 1.1 also names the server a Security instance is for.
      if (obj == kSecurity && ssid && config_.profile == Profile::V1_1) {
        if (auto uri = tree.get<std::string>(obj, inst, security::kUri))
          l.attrs.push_back({"uri", *uri});
      }
      links.push_back(std::move(l));
    }
  }
  if (path.obj && links.empty()) return {Code::NotFound, {}, {}, {}};
  std::string text = encode_links(links);
  return {Code::Content, format::kLinkFormat, Bytes(text.begin(), text.end()), {}};
}

// Bootstrap-Read (1.1): the Server and Access Control objects, or one of
// their instances, never the Security object's keys; TLV unless Accept asks
// for SenML.
Response Client::bootstrap_read(const ObjectTree& tree, const Path& path,
                                const Request& req) const {
  if (config_.profile != Profile::V1_1 || path.depth() > 2 ||
      (*path.obj != kServer && *path.obj != kAccessControl))
    return {Code::MethodNotAllowed, {}, {}, {}};
  const uint16_t fmt = req.accept.value_or(format::kTlv);
  if (fmt != format::kTlv && fmt != format::kSenmlJson && fmt != format::kSenmlCbor)
    return {Code::NotAcceptable, {}, {}, {}};
  const ObjectDef* def = registry_.find(*path.obj);
  const Instances* data = tree.object(*path.obj);
  const Instances none;
  if (path.inst && (data == nullptr || !names_data(*data, path)))
    return {Code::NotFound, {}, {}, {}};
  auto body = content::encode(*def, path, data ? *data : none, fmt);
  if (!body) return {Code::InternalError, {}, {}, {}};
  return {Code::Content, fmt, std::move(*body), {}};
}

Response Client::bootstrap_finish(TimeMs now, const Request& req) {
  if (!req.query.empty()) {
    event(now, "bootstrap_command", "POST /bs with a query -> 4.00");
    return {Code::BadRequest, {}, {}, {}};
  }
  if (!server_account(*staged_)) {
    event(now, "finish_rejected",
          "4.06: no complete server account (Security + Server with the same ssid)");
    return {Code::NotAcceptable, {}, {}, {}};
  }
  event(now, "bootstrap_command", "POST /bs (Finish) -> 2.04");
  request_commit(now, BootstrapExit::Finish);
  return {Code::Changed, {}, {}, {}};
}

// --- registration -----------------------------------------------------------

void Client::begin_registration(TimeMs now) {
  server_ = server_account(live_);
  if (!server_) {
    event(now, "error", "no complete server account to register with");
    if (bootstrap_account(live_)) {
      begin_bootstrap(now, bootstrap_backoff_.next());
    } else {
      set_state(now, State::Failed);
    }
    return;
  }
  register_failures_ = 0;
  register_backoff_.reset();
  retry_is_bootstrap_ = false;
  retry_timer_.at = now;
}

void Client::send_register(TimeMs now) {
  set_state(now, State::Registering);
  end_observations(now, "a new registration");
  auto inst = server_instance(live_, server_->ssid);
  lifetime_s_ =
      static_cast<uint32_t>(live_.get<int64_t>(kServer, *inst, server::kLifetime).value_or(86400));
  std::string binding = live_.get<std::string>(kServer, *inst, server::kBinding).value_or("U");
  Request r;
  r.method = Method::Post;
  r.path = {"rd"};
  r.query = {"ep=" + config_.endpoint, "lt=" + std::to_string(lifetime_s_),
             std::string("lwm2m=") + (config_.profile == Profile::V1_1 ? "1.1" : "1.0"),
             "b=" + binding};
  r.content_format = format::kLinkFormat;
  std::vector<Link> links;
  for (const auto& [obj, instances] : live_.objects()) {
    if (obj == kSecurity) continue;  // never announced to a server
    if (instances.empty()) links.push_back({"/" + std::to_string(obj), {}});
    for (const auto& [i, _] : instances)
      links.push_back({"/" + std::to_string(obj) + "/" + std::to_string(i), {}});
  }
  std::string text = encode_links(links);
  r.payload.assign(text.begin(), text.end());
  event(now, "register", server_->uri);
  send(Pending::Register, *server_, std::move(r));
}

void Client::send_update(TimeMs now) {
  Request r;
  r.method = Method::Post;
  r.path = location_;
  event(
      now, "update", "/" + [&] {
        std::string s;
        for (const auto& p : location_) s += (s.empty() ? "" : "/") + p;
        return s;
      }());
  send(Pending::Update, *server_, std::move(r));
}

void Client::deregister(TimeMs now) {
  if (state_ != State::Registered) return;
  update_timer_.at.reset();
  end_observations(now, "de-registered");
  Request r;
  r.method = Method::Delete;
  r.path = location_;
  event(now, "deregister", server_->uri);
  send(Pending::Deregister, *server_, std::move(r));
}

void Client::registration_failed(TimeMs now, const std::string& why) {
  ++register_failures_;
  event(now, "registration_failed", why);
  end_observations(now, "registration failed");
  update_timer_.at.reset();
  location_.clear();
  if (register_failures_ >= config_.register_attempts) {
    // ETS 1.1-int-7: a server that cannot be reached sends the client back
    // to its bootstrap server.
    server_.reset();
    if (bootstrap_account(live_)) {
      event(now, "fallback",
            "to bootstrap after " + std::to_string(register_failures_) + " failed registrations");
      begin_bootstrap(now, 0);
    } else {
      set_state(now, State::Failed);
    }
    return;
  }
  set_state(now, State::Registering);
  TimeMs delay = register_backoff_.next();
  event(now, "retry", "registration in " + std::to_string(delay) + " ms");
  retry_is_bootstrap_ = false;
  retry_timer_.at = now + delay;
}

Response Client::server_command(TimeMs now, Origin from, const Request& req) {
  auto path = Path::from_segments(req.path);
  Response resp{Code::MethodNotAllowed, {}, {}, {}};
  if (req.method == Method::Delete || req.uri_path() == "/bs") {
    // Delete and Bootstrap-Finish belong to the bootstrap-server session.
    resp.code = Code::Unauthorized;
    event(now, "refused",
          "server " + std::to_string(from.ssid) + " " + to_string(req.method) + " " +
              req.uri_path() + ": a bootstrap operation outside the bootstrap-server session");
  } else if (!path || path->depth() == 0) {
    resp.code = Code::BadRequest;
  } else if (*path->obj == kSecurity) {
    // Only the bootstrap server may touch credentials.
    resp.code = Code::Unauthorized;
    event(
        now, "refused",
        "server " + std::to_string(from.ssid) + " " + to_string(req.method) + " " + req.uri_path());
  } else if (const ObjectDef* def = registry_.find(*path->obj); def == nullptr) {
    resp.code = Code::NotFound;
  } else if (req.method == Method::Get) {
    resp = read(*def, *path, req.accept.value_or(format::kTlv));
    if (req.observe) observe(now, from, req, *path, resp);
  } else if (req.method == Method::Put && req.payload.empty() && !req.query.empty()) {
    resp = write_attributes(now, from, req, *path);
  } else if ((req.method == Method::Put || req.method == Method::Post) && path->depth() < 3 &&
             !format_allowed(req.content_format.value_or(format::kTlv))) {
    resp.code = Code::UnsupportedFormat;
  } else if ((req.method == Method::Put || req.method == Method::Post) && path->depth() < 3) {
    auto data = content::decode_write(*def, *path, req.content_format.value_or(format::kTlv),
                                      req.payload.data(), req.payload.size());
    if (!data || (path->depth() == 2 && !live_.instance(*path->obj, *path->inst))) {
      resp.code = data ? Code::NotFound : Code::BadRequest;
    } else {
      for (const auto& [inst, instance] : *data) live_.merge_instance(*path->obj, inst, instance);
      resp.code = Code::Changed;
      check_observations(now);
    }
  } else if (req.method == Method::Post && path->depth() == 3) {
    resp.code = Code::Changed;
    if (*path->obj == kServer && *path->res == server::kUpdateTrigger &&
        state_ == State::Registered) {
      update_timer_.at = now;
    } else if (*path->obj == kServer && *path->res == server::kBootstrapTrigger) {
      event(now, "bootstrap_trigger", "server-initiated bootstrap (ETS 1.1-int-5)");
      begin_bootstrap(now, 0);
    } else if (*path->obj == kDevice && *path->res == device::kReboot) {
      event(now, "reboot_requested", "");
    } else {
      resp.code = Code::MethodNotAllowed;
    }
  }
  event(now, "server_command",
        to_string(req.method) + " " + req.uri_path() + " -> " + to_string(resp.code));
  return resp;
}

Response Client::read(const ObjectDef& def, const Path& path, uint16_t fmt) const {
  const Instances* data = live_.object(*path.obj);
  if (data == nullptr || !names_data(*data, path)) return {Code::NotFound, {}, {}, {}};
  auto body = content::encode(def, path, *data, fmt);
  if (!body) return {Code::NotAcceptable, {}, {}, {}};
  return {Code::Content, fmt, std::move(*body), {}};
}

// --- observe ------------------------------------------------------------------

Status Client::set_resource(TimeMs now, const std::string& text_path, const std::string& text) {
  HIL_TRY_ASSIGN(Path path, Path::parse(text_path));
  if (path.depth() != 3)
    return Error{ErrorCode::kInvalidArgument, "path: " + text_path + " is not /obj/inst/res"};
  if (*path.obj == kSecurity)
    return Error{ErrorCode::kInvalidArgument,
                 "path: " + text_path + ": credentials come from bootstrap"};
  const ObjectDef* def = registry_.find(*path.obj);
  if (def == nullptr || !live_.instance(*path.obj, *path.inst))
    return Error{ErrorCode::kInvalidArgument, "path: the device has no " + path.str()};
  auto data = content::decode_write(*def, path, format::kText,
                                    reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (!data) return data.error().prefixed("value for " + path.str() + ": ");
  for (const auto& [inst, instance] : *data) live_.merge_instance(*path.obj, inst, instance);
  event(now, "resource_set", path.str() + " = " + text);
  check_observations(now);
  return ok_status();
}

// A GET with Observe=0 whose Read succeeded starts an observation, so the
// answer carries an Observe value; Observe=1 ends the one on its token.
// Discover (link format) is never observed.
void Client::observe(TimeMs now, Origin from, const Request& req, const Path& path,
                     Response& answer) {
  if (*req.observe == 1) {
    if (observations_.remove(req.token))
      event(now, "observe_cancelled", path.str() + ": by server " + std::to_string(from.ssid));
    return;
  }
  if (*req.observe != 0 || answer.code != Code::Content || state_ != State::Registered ||
      answer.content_format == format::kLinkFormat)
    return;
  Observations::Entry e;
  e.token = req.token;
  e.ssid = from.ssid;
  e.path = path;
  e.format = *answer.content_format;
  e.sent = answer.payload;
  e.sent_number = number_at(live_, path);
  answer.observe = observations_.add(now, std::move(e));
  event(now, "observe",
        path.str() + " by server " + std::to_string(from.ssid) + ", observe " +
            std::to_string(*answer.observe));
}

Response Client::write_attributes(TimeMs now, Origin from, const Request& req, const Path& path) {
  std::string query;
  for (const auto& q : req.query) query += (query.empty() ? "" : "&") + q;
  if (auto why = observations_.write_attributes(from.ssid, path, req.query)) {
    event(now, "write_attributes", path.str() + "?" + query + " refused: " + *why);
    return {Code::BadRequest, format::kText, Bytes(why->begin(), why->end()), {}};
  }
  event(now, "write_attributes", path.str() + "?" + query);
  check_observations(now);  // a new pmax may be due already
  return {Code::Changed, {}, {}, {}};
}

void Client::check_observations(TimeMs now) {
  if (state_ != State::Registered || !server_) return;
  auto& entries = observations_.entries();
  for (size_t i = 0; i < entries.size();) {
    if (notify(now, entries[i])) {
      ++i;
    } else {
      entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

// False when the observation ends: its path is gone (a final 4.04, RFC
// 7641 3.2), or its object too.
bool Client::notify(TimeMs now, Observations::Entry& e) {
  const ObjectDef* def = registry_.find(*e.path.obj);
  Response r = def ? read(*def, e.path, e.format) : Response{Code::NotFound, {}, {}, {}};
  if (r.code != Code::Content) {
    event(now, "observe_cancelled", e.path.str() + ": " + to_string(r.code));
    actions_.emplace_back(Notify{*server_, e.token, std::move(r)});
    return false;
  }
  std::string shown = std::to_string(r.payload.size()) + " bytes";
  if (const Value* v =
          e.path.depth() == 3 ? live_.value(*e.path.obj, *e.path.inst, *e.path.res) : nullptr)
    shown = to_display(*v);
  std::optional<uint32_t> seq = observations_.check(now, e, r.payload, number_at(live_, e.path));
  if (!seq) return true;
  r.observe = *seq;
  event(now, "notify", e.path.str() + " observe " + std::to_string(*seq) + ": " + shown);
  actions_.emplace_back(Notify{*server_, e.token, std::move(r)});
  return true;
}

void Client::on_notify_failed(TimeMs now, const Bytes& token, const std::string& reason) {
  if (auto path = observations_.remove(token))
    event(now, "observe_cancelled", path->str() + ": notification " + reason);
}

// Observations belong to a registration (LwM2M 1.0, 5.5): a new one, or
// none, ends them.
void Client::end_observations(TimeMs now, const std::string& why) {
  if (observations_.size() == 0) return;
  event(now, "observe_cancelled", std::to_string(observations_.size()) + " observation(s): " + why);
  observations_.clear();
}

// --- messages in ------------------------------------------------------------

Response Client::on_request(TimeMs now, Origin from, const Request& req) {
  if (from.bootstrap) return bootstrap_command(now, req);
  return server_command(now, from, req);
}

void Client::on_response(TimeMs now, uint64_t id, const Response& resp) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answer to something we gave up on
  Pending what = it->second;
  pending_.erase(it);
  switch (what) {
    case Pending::BootstrapRequest:
      if (is_success(resp.code)) {
        event(now, "bootstrap_accepted", to_string(resp.code));
        if (staged_) touch_bootstrap(now);
      } else {
        bootstrap_refused(now, resp.code);
      }
      break;
    case Pending::Register:
      if (resp.code == Code::Created && !resp.location_path.empty()) {
        location_ = resp.location_path;
        register_failures_ = 0;
        set_state(now, State::Registered);
        update_timer_.at = now + static_cast<TimeMs>(lifetime_s_) * 500;
      } else {
        registration_failed(now, "Register answered " + to_string(resp.code));
      }
      break;
    case Pending::Update:
      if (is_success(resp.code)) {
        update_timer_.at = now + static_cast<TimeMs>(lifetime_s_) * 500;
      } else if (resp.code == Code::NotFound) {
        event(now, "reregister", "the server forgot the registration");
        retry_is_bootstrap_ = false;
        retry_timer_.at = now;
      } else {
        registration_failed(now, "Update answered " + to_string(resp.code));
      }
      break;
    case Pending::Deregister:
      location_.clear();
      set_state(now, State::Bootstrapped);
      break;
  }
}

void Client::on_failure(TimeMs now, uint64_t id, const std::string& reason) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending what = it->second;
  pending_.erase(it);
  switch (what) {
    case Pending::BootstrapRequest:
      bootstrap_failed(now, BootstrapExit::None, "Request Bootstrap: " + reason);
      break;
    case Pending::Register:
    case Pending::Update:
      registration_failed(now, reason);
      break;
    case Pending::Deregister:
      location_.clear();
      set_state(now, State::Bootstrapped);
      break;
  }
}

// --- plumbing ---------------------------------------------------------------

uint64_t Client::send(Pending what, const Account& to, Request request) {
  uint64_t id = next_id_++;
  pending_[id] = what;
  actions_.emplace_back(SendRequest{id, to, std::move(request)});
  return id;
}

std::optional<Action> Client::poll() {
  if (committing_ && committing_->handed) exit_bootstrap();  // the Commit landed
  if (actions_head_ == actions_.size()) {
    // Released, not cleared: an idle client in a fleet of thousands should
    // not keep the high-water mark of its queue.
    std::vector<Action>().swap(actions_);
    actions_head_ = 0;
    return std::nullopt;
  }
  Action next = std::move(actions_[actions_head_++]);
  if (committing_ && std::holds_alternative<Commit>(next)) committing_->handed = true;
  return next;
}

void Client::set_state(TimeMs now, State s) {
  if (s == state_) return;
  state_ = s;
  event(now, "state", to_string(s));
}

void Client::event(TimeMs now, std::string kind, std::string detail) {
  actions_.emplace_back(Event{now, std::move(kind), std::move(detail)});
}

}  // namespace hil::lwm2m
