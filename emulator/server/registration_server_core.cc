#include "emulator/server/registration_server_core.h"

#include <limits>
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

std::string describe(const lw::Request& r) {
  std::string s = lw::to_string(r.method) + " " + r.uri_path();
  for (size_t i = 0; i < r.query.size(); ++i) s += (i ? "&" : "?") + r.query[i];
  return s;
}

}  // namespace

RegistrationServerCore::RegistrationServerCore(TimeMs grace_ms) : grace_ms_(grace_ms) {}

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
  if (req.method == lw::Method::Post) return update(now, peer, req);
  if (req.method != lw::Method::Delete) {
    return reject(now, req, lw::Code::MethodNotAllowed, "/rd/{id} takes POST (Update) or DELETE");
  }
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
  const std::optional<std::string> lt = req.query_param("lt");
  // 86400 s is the LwM2M default lifetime.
  r.lifetime_s = lt ? parse_lifetime(*lt).value_or(0) : 86400;
  if (r.lifetime_s == 0) {
    return reject(now, req, lw::Code::BadRequest, "lt must be 1..4294967295");
  }
  if (req.content_format && *req.content_format != lw::format::kLinkFormat) {
    return reject(now, req, lw::Code::BadRequest, "object links must be link format (40)");
  }
  r.lwm2m_version = req.query_param("lwm2m").value_or("1.0");
  r.binding = req.query_param("b").value_or("U");
  r.object_links.assign(req.payload.begin(), req.payload.end());
  r.registered_ms = r.updated_ms = now;
  r.peer = peer;
  r.id = std::to_string(next_id_++);
  std::string detail;
  auto old = id_by_endpoint_.find(r.endpoint);
  if (old != id_by_endpoint_.end()) {
    detail = "replaces /rd/" + old->second;
    remove(old->second);
  }
  lw::Response resp = answer(lw::Code::Created);
  resp.location_path = {"rd", r.id};
  add(r);
  record(now, "registered", r, detail);
  return resp;
}

lw::Response RegistrationServerCore::update(TimeMs now, PeerId peer, const lw::Request& req) {
  const std::optional<std::string> lt = req.query_param("lt");
  std::optional<uint32_t> lifetime;
  if (lt && !(lifetime = parse_lifetime(*lt))) {
    return reject(now, req, lw::Code::BadRequest, "lt must be 1..4294967295");
  }
  Registration r = by_id_.at(req.path[1]);
  remove(r.id);
  if (lifetime) r.lifetime_s = *lifetime;
  if (auto b = req.query_param("b")) r.binding = *b;
  if (!req.payload.empty()) r.object_links.assign(req.payload.begin(), req.payload.end());
  r.updated_ms = now;
  r.peer = peer;  // a NAT may have rebound the client's address
  ++r.updates;
  add(r);
  record(now, "updated", r, "");
  return answer(lw::Code::Changed);
}

lw::Response RegistrationServerCore::reject(TimeMs now, const lw::Request& req, lw::Code code,
                                            const std::string& why) {
  events_.push_back({now, "rejected", describe(req) + ": " + lw::to_string(code) + ", " + why});
  return answer(code);
}

void RegistrationServerCore::refuse(TimeMs now, const std::string& reason) {
  events_.push_back({now, "rejected", reason});
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
  events_.push_back({now, kind, text});
  if (on_change) on_change(events_.back(), r);
}

TimeMs RegistrationServerCore::deadline(const Registration& r) const {
  return r.updated_ms + TimeMs{r.lifetime_s} * 1000 + grace_ms_;
}

}  // namespace hil::server
