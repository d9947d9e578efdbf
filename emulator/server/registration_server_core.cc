#include "emulator/server/registration_server_core.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <utility>

namespace hil::server {
namespace {

namespace lw = hil::lwm2m;

lw::Response answer(lw::Code code) {
  lw::Response r;
  r.code = code;
  return r;
}

// "lt" is 1..2^32-1 seconds; nullopt for anything else.
std::optional<uint32_t> parse_lifetime(const std::string& text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(v);
}

RegistrationServerCore::Random os_random() {
  return [device = std::make_shared<std::random_device>()] {
    return (uint64_t{(*device)()} << 32) ^ (*device)();
  };
}

}  // namespace

RegistrationServerCore::RegistrationServerCore(TimeMs grace_ms, RegistrationLimits limits,
                                               Random random)
    : grace_ms_(grace_ms),
      limits_(limits),
      random_(random ? std::move(random) : os_random()),
      events_(limits.max_events) {}

lw::Response RegistrationServerCore::on_request(TimeMs now, PeerId peer, const lw::Request& req) {
  if (req.path.empty() || req.path[0] != "rd" || req.path.size() > 2) {
    return reject(now, req, lw::Code::NotFound, "not a registration path");
  }
  if (req.path.size() == 1) {
    if (req.method != lw::Method::Post) {
      return reject(now, req, lw::Code::MethodNotAllowed, "/rd takes POST");
    }
    return reg(now, peer, req);
  }
  auto it = by_id_.find(req.path[1]);
  if (it == by_id_.end()) {
    return reject(now, req, lw::Code::NotFound, "no such registration");
  }
  if (req.method != lw::Method::Post && req.method != lw::Method::Delete) {
    return reject(now, req, lw::Code::MethodNotAllowed, "/rd/{id} takes POST (Update) or DELETE");
  }
  const std::string who = principal_of(peer);
  if (who != it->second.principal) {
    ++counters_.refused_principal;
    return reject(now, req, lw::Code::Forbidden,
                  who + " is not the client that registered " + it->second.endpoint);
  }
  if (req.method == lw::Method::Post) return update(now, peer, req);
  const Registration gone = it->second;
  remove(gone.id);
  record(now, "deregistered", gone, "");
  return answer(lw::Code::Deleted);
}

lw::Response RegistrationServerCore::reg(TimeMs now, PeerId peer, const lw::Request& req) {
  Registration r;
  r.endpoint = req.query_param("ep").value_or("");
  if (r.endpoint.empty()) {
    return reject(now, req, lw::Code::BadRequest, "missing endpoint name (ep)");
  }
  if (authorize) {
    if (std::optional<std::string> why = authorize(peer, r.endpoint))
      return reject(now, req, lw::Code::Forbidden, *why);
  }
  std::string detail;
  // 86400 s is the LwM2M default lifetime.
  const std::optional<std::string> lt_text = req.query_param("lt");
  const std::optional<uint32_t> lt = lt_text ? parse_lifetime(*lt_text) : 86400;
  if (!lt) return reject(now, req, lw::Code::BadRequest, "lt must be 1..4294967295");
  if (req.content_format && *req.content_format != lw::format::kLinkFormat) {
    return reject(now, req, lw::Code::BadRequest, "object links must be link format (40)");
  }
  auto old = id_by_endpoint_.find(r.endpoint);
  if (old == id_by_endpoint_.end() && by_id_.size() >= limits_.max_registrations) {
    ++counters_.refused_full;
    return reject(
        now, req, lw::Code::Unavailable,
        "registrations full (max_registrations " + std::to_string(limits_.max_registrations) + ")");
  }
  r.lifetime_s = capped(*lt, detail);
  r.lwm2m_version = req.query_param("lwm2m").value_or("1.0");
  r.binding = req.query_param("b").value_or("U");
  r.object_links.assign(req.payload.begin(), req.payload.end());
  r.registered_ms = r.updated_ms = now;
  r.peer = peer;
  r.principal = principal_of(peer);
  r.id = new_id();
  if (old != id_by_endpoint_.end()) {
    detail += std::string(detail.empty() ? "" : ", ") + "replaces /rd/" + old->second;
    remove(old->second);
  }
  lw::Response resp = answer(lw::Code::Created);
  resp.location_path = {"rd", r.id};
  add(r);
  record(now, "registered", r, detail);
  return resp;
}

lw::Response RegistrationServerCore::update(TimeMs now, PeerId peer, const lw::Request& req) {
  std::string detail;
  const std::optional<std::string> lt_text = req.query_param("lt");
  const std::optional<uint32_t> lt = lt_text ? parse_lifetime(*lt_text) : std::nullopt;
  if (lt_text && !lt) return reject(now, req, lw::Code::BadRequest, "lt must be 1..4294967295");
  Registration r = by_id_.at(req.path[1]);
  remove(r.id);
  if (lt) r.lifetime_s = capped(*lt, detail);
  if (auto b = req.query_param("b")) r.binding = *b;
  if (!req.payload.empty()) r.object_links.assign(req.payload.begin(), req.payload.end());
  r.updated_ms = now;
  r.peer = peer;  // a NAT may have rebound the client's port
  ++r.updates;
  add(r);
  record(now, "updated", r, detail);
  return answer(lw::Code::Changed);
}

lw::Response RegistrationServerCore::reject(TimeMs now, const lw::Request& req, lw::Code code,
                                            const std::string& why) {
  events_.push({now, "rejected", lw::to_string(req) + ": " + lw::to_string(code) + ", " + why});
  return answer(code);
}

void RegistrationServerCore::refuse(TimeMs now, const std::string& reason) {
  events_.push({now, "rejected", reason});
}

RegistrationCounters RegistrationServerCore::counters() const {
  RegistrationCounters c = counters_;
  c.events_evicted = events_.evicted();
  return c;
}

uint32_t RegistrationServerCore::capped(uint32_t lt, std::string& detail) {
  if (lt <= limits_.max_lifetime_s) return lt;
  ++counters_.lifetimes_capped;
  detail =
      "lt " + std::to_string(lt) + " cut to max_lifetime " + std::to_string(limits_.max_lifetime_s);
  return limits_.max_lifetime_s;
}

std::string RegistrationServerCore::principal_of(PeerId peer) const {
  return principal ? principal(peer) : "peer " + std::to_string(peer);
}

std::string RegistrationServerCore::new_id() {
  // 128 random bits in hex: an id is the only thing that names a
  // registration in an Update, so it must not be guessable.
  for (;;) {
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random_()),
                  static_cast<unsigned long long>(random_()));
    if (!by_id_.count(text)) return text;
  }
}

std::vector<Registration> RegistrationServerCore::registrations() const {
  std::vector<Registration> out;
  for (const auto& [ep, id] : id_by_endpoint_) out.push_back(by_id_.at(id));
  return out;
}

const Registration* RegistrationServerCore::find(const std::string& endpoint) const {
  auto it = id_by_endpoint_.find(endpoint);
  return it == id_by_endpoint_.end() ? nullptr : &by_id_.at(it->second);
}

std::optional<TimeMs> RegistrationServerCore::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void RegistrationServerCore::on_timeout(TimeMs now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const Registration gone = by_id_.at(deadlines_.begin()->second);
    remove(gone.id);
    record(now, "expired", gone, "no update for " + std::to_string(gone.lifetime_s) + " s");
  }
}

void RegistrationServerCore::add(Registration r) {
  deadlines_.insert({deadline(r), r.id});
  id_by_endpoint_[r.endpoint] = r.id;
  const std::string id = r.id;
  by_id_[id] = std::move(r);
}

void RegistrationServerCore::remove(std::string id) {
  const Registration& r = by_id_.at(id);
  deadlines_.erase({deadline(r), id});
  id_by_endpoint_.erase(r.endpoint);
  by_id_.erase(id);
}

void RegistrationServerCore::record(TimeMs now, const char* kind, const Registration& r,
                                    const std::string& detail) {
  std::string text = "ep=" + r.endpoint + " id=" + r.id + " lt=" + std::to_string(r.lifetime_s) +
                     " b=" + r.binding;
  if (!detail.empty()) text += " (" + detail + ")";
  Event e{now, kind, std::move(text)};
  if (on_change) on_change(e, r);
  events_.push(std::move(e));
}

TimeMs RegistrationServerCore::deadline(const Registration& r) const {
  return r.updated_ms + TimeMs{r.lifetime_s} * 1000 + grace_ms_;
}

}  // namespace hil::server
