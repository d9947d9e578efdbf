#include "emulator/lwm2m/client/observations.h"

#include <cmath>
#include <cstdlib>

namespace hil::lwm2m {
namespace {

std::optional<int64_t> parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Sets (or, without a value, clears) one attribute; an error names it.
std::optional<std::string> apply(NotifyAttributes& a, const std::string& item) {
  const size_t eq = item.find('=');
  const std::string key = item.substr(0, eq);
  const bool has_value = eq != std::string::npos;
  const std::string text = has_value ? item.substr(eq + 1) : "";
  if (key == "pmin" || key == "pmax") {
    std::optional<int64_t> v = parse_seconds(text);
    if (has_value && !v) return key + "=" + text + ": expected whole seconds >= 0";
    (key == "pmin" ? a.pmin_s : a.pmax_s) = has_value ? v : std::nullopt;
    return std::nullopt;
  }
  if (key == "gt" || key == "lt" || key == "st") {
    std::optional<double> v = parse_number(text);
    if (has_value && (!v || (key == "st" && *v < 0)))
      return key + "=" + text + ": expected a number" + (key == "st" ? " >= 0" : "");
    (key == "gt" ? a.gt : key == "lt" ? a.lt : a.st) = has_value ? v : std::nullopt;
    return std::nullopt;
  }
  return "unknown attribute " + key + " (known: pmin, pmax, gt, lt, st)";
}

// The path one level up: /3/0/13 -> /3/0 -> /3 -> /.
Path parent(Path p) {
  if (p.riid) {
    p.riid.reset();
  } else if (p.res) {
    p.res.reset();
  } else if (p.inst) {
    p.inst.reset();
  } else {
    p.obj.reset();
  }
  return p;
}

bool crossed(double limit, double from, double to) { return (from > limit) != (to > limit); }

}  // namespace

uint32_t Observations::add(TimeMs now, Entry e) {
  remove(e.token);
  e.sent_at = now;
  e.pending = false;
  entries_.push_back(std::move(e));
  return next_seq();
}

std::optional<Path> Observations::remove(const Bytes& token) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->token != token) continue;
    Path p = it->path;
    entries_.erase(it);
    return p;
  }
  return std::nullopt;
}

std::optional<std::string> Observations::write_attributes(uint16_t ssid, const Path& path,
                                                          const std::vector<std::string>& query) {
  NotifyAttributes a = attrs_[{ssid, path.str()}];
  for (const std::string& item : query)
    if (std::optional<std::string> why = apply(a, item)) return why;
  if (a.gt && a.lt && *a.lt >= *a.gt) return "lt must be below gt";
  attrs_[{ssid, path.str()}] = a;
  return std::nullopt;
}

NotifyAttributes Observations::attributes(uint16_t ssid, const Path& path) const {
  NotifyAttributes out;
  for (Path p = path; p.depth() > 0; p = parent(p)) {
    auto it = attrs_.find({ssid, p.str()});
    if (it == attrs_.end()) continue;
    const NotifyAttributes& a = it->second;
    if (!out.pmin_s) out.pmin_s = a.pmin_s;
    if (!out.pmax_s) out.pmax_s = a.pmax_s;
    if (!out.gt) out.gt = a.gt;
    if (!out.lt) out.lt = a.lt;
    if (!out.st) out.st = a.st;
  }
  return out;
}

bool Observations::qualifies(const Entry& e, const NotifyAttributes& a, const Bytes& content,
                             std::optional<double> number) const {
  if (content == e.sent) return false;
  const bool conditional = a.gt || a.lt || a.st;
  if (!conditional || !number || !e.sent_number) return true;
  const double from = *e.sent_number, to = *number;
  return (a.gt && crossed(*a.gt, from, to)) || (a.lt && crossed(*a.lt, from, to)) ||
         (a.st && std::fabs(to - from) >= *a.st);
}

std::optional<uint32_t> Observations::check(TimeMs now, Entry& e, const Bytes& content,
                                            std::optional<double> number) {
  const NotifyAttributes a = attributes(e.ssid, e.path);
  const TimeMs pmin = a.pmin_s.value_or(0) * 1000;
  // LwM2M 1.0, 5.1.2: a pmax below pmin is ignored.
  const bool use_pmax = a.pmax_s && *a.pmax_s > 0 && *a.pmax_s >= a.pmin_s.value_or(0);
  const bool changed = qualifies(e, a, content, number);
  e.pending = changed && now < e.sent_at + pmin;
  const bool forced = use_pmax && now >= e.sent_at + *a.pmax_s * 1000;
  if (!(changed && !e.pending) && !forced) return std::nullopt;
  e.sent = content;
  e.sent_number = number;
  e.sent_at = now;
  e.pending = false;
  return next_seq();
}

std::optional<TimeMs> Observations::next_deadline() const {
  std::optional<TimeMs> d;
  auto consider = [&d](TimeMs t) {
    if (!d || t < *d) d = t;
  };
  for (const Entry& e : entries_) {
    const NotifyAttributes a = attributes(e.ssid, e.path);
    if (e.pending) consider(e.sent_at + a.pmin_s.value_or(0) * 1000);
    if (a.pmax_s && *a.pmax_s > 0 && *a.pmax_s >= a.pmin_s.value_or(0))
      consider(e.sent_at + *a.pmax_s * 1000);
  }
  return d;
}

}  // namespace hil::lwm2m
