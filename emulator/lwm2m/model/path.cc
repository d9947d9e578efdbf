#include "emulator/lwm2m/model/path.h"

namespace hil::lwm2m {
namespace {

// 65535 is reserved by LwM2M (it marks "no instance" in ObjLinks and ACLs).
constexpr uint32_t kMaxId = 65534;

Result<uint16_t> parse_id(const std::string& segment) {
  if (segment.empty() || segment.size() > 5) return Error{ErrorCode::kInvalidArgument, ""};
  uint32_t v = 0;
  for (char c : segment) {
    if (c < '0' || c > '9') return Error{ErrorCode::kInvalidArgument, ""};
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > kMaxId) return Error{ErrorCode::kInvalidArgument, ""};
  return static_cast<uint16_t>(v);
}

}  // namespace

Result<Path> Path::from_segments(const std::vector<std::string>& segments) {
  std::string shown;
  for (const std::string& s : segments) shown += "/" + s;
  if (shown.empty()) shown = "/";
  const std::string prefix = "'" + shown + "' is not an LwM2M path: ";
  if (segments.size() > 4) {
    return Error{ErrorCode::kInvalidArgument,
                 prefix + "it has " + std::to_string(segments.size()) +
                     " segments, at most 4 (/obj/inst/res/res-inst) are allowed"};
  }
  Path p;
  std::optional<uint16_t>* slots[] = {&p.obj, &p.inst, &p.res, &p.riid};
  for (size_t i = 0; i < segments.size(); ++i) {
    Result<uint16_t> id = parse_id(segments[i]);
    if (!id) {
      return Error{ErrorCode::kInvalidArgument,
                   prefix + "segment '" + segments[i] + "' is not a number 0..65534"};
    }
    *slots[i] = *id;
  }
  return p;
}

Result<Path> Path::parse(const std::string& text) {
  if (text.empty() || text[0] != '/') {
    return Error{ErrorCode::kInvalidArgument,
                 "'" + text + "' is not an LwM2M path: it must start with '/'"};
  }
  if (text == "/") return root();
  std::vector<std::string> segments;
  size_t start = 1;
  while (true) {
    const size_t slash = text.find('/', start);
    segments.push_back(text.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return from_segments(segments);
}

int Path::depth() const {
  if (!obj) return 0;
  if (!inst) return 1;
  if (!res) return 2;
  return riid ? 4 : 3;
}

std::string Path::str() const {
  if (!obj) return "/";
  std::string s = "/" + std::to_string(*obj);
  for (const std::optional<uint16_t>* id : {&inst, &res, &riid}) {
    if (!*id) break;
    s += "/" + std::to_string(**id);
  }
  return s;
}

}  // namespace hil::lwm2m
