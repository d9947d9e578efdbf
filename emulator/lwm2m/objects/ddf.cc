#include "emulator/lwm2m/objects/ddf.h"

#include <expat.h>

#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace hil::lwm2m::ddf {
namespace {

const char* const kTypes[] = {"String", "Integer", "Unsigned Integer", "Float",   "Boolean",
                              "Opaque", "Time",    "Objlnk",           "Corelnk", ""};
const ResourceType kTypeValues[] = {
    ResourceType::String, ResourceType::Integer, ResourceType::UnsignedInteger,
    ResourceType::Float,  ResourceType::Boolean, ResourceType::Opaque,
    ResourceType::Time,   ResourceType::ObjLink, ResourceType::CoreLink,
    ResourceType::None};

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::optional<uint16_t> id_of(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  unsigned long v = std::stoul(s);
  if (v > 65534) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// One resource <Item> while its children arrive; each field is set once.
struct Item {
  std::optional<uint16_t> id;
  std::optional<std::string> name;
  std::optional<ResourceType> type;
  std::optional<Ops> ops;
  std::optional<bool> multiple, mandatory;
};

// Expat's callbacks build the object here; the first error stops the parse.
class Parser {
 public:
  Parser(std::string name) : name_(std::move(name)), xml_(XML_ParserCreate("UTF-8")) {
    XML_SetUserData(xml_, this);
    XML_SetElementHandler(xml_, &Parser::on_start, &Parser::on_end);
    XML_SetCharacterDataHandler(xml_, &Parser::on_text);
  }
  ~Parser() { XML_ParserFree(xml_); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  Result<ObjectDef> run(const char* data, size_t len) {
    if (len > static_cast<size_t>(INT32_MAX))
      return Error{ErrorCode::kInvalidArgument, name_ + ": file too large"};
    if (XML_Parse(xml_, data, static_cast<int>(len), XML_TRUE) == XML_STATUS_ERROR &&
        error_.empty())
      fail(std::string("malformed XML: ") + XML_ErrorString(XML_GetErrorCode(xml_)));
    if (error_.empty() && !object_id_) fail("no <Object> with an <ObjectID> (is this a DDF file?)");
    if (!error_.empty()) return Error{ErrorCode::kInvalidArgument, error_};
    obj_.id = *object_id_;
    return std::move(obj_);
  }

 private:
  static void on_start(void* self, const XML_Char* tag, const XML_Char** attrs) {
    static_cast<Parser*>(self)->start(tag, attrs);
  }
  static void on_end(void* self, const XML_Char* tag) { static_cast<Parser*>(self)->end(tag); }
  static void on_text(void* self, const XML_Char* s, int len) {
    static_cast<Parser*>(self)->text_.append(s, static_cast<size_t>(len));
  }

  void fail(const std::string& what) {
    if (!error_.empty()) return;
    error_ = name_ + ":" + std::to_string(XML_GetCurrentLineNumber(xml_)) + ": " + what;
    XML_StopParser(xml_, XML_FALSE);
  }

  std::string path() const {
    std::string p;
    for (const std::string& s : stack_) p += (p.empty() ? "" : "/") + s;
    return p;
  }

  void start(const std::string& tag, const XML_Char** attrs) {
    stack_.push_back(tag);
    text_.clear();
    const std::string p = path();
    if (stack_.size() == 1 && tag != "LWM2M")
      return fail("the root element is <" + tag + ">, not <LWM2M>");
    if (p == "LWM2M/Object" && ++objects_ > 1) return fail("more than one <Object>; one per file");
    if (p != "LWM2M/Object/Resources/Item") return;
    item_ = Item{};
    for (size_t i = 0; attrs[i] != nullptr; i += 2) {
      if (std::string(attrs[i]) == "ID") item_.id = id_of(attrs[i + 1]);
    }
    if (!item_.id) fail("<Item> needs an ID attribute 0..65534");
  }

  void end(const std::string&) {
    const std::string p = path();
    const std::string value = trim(text_);
    text_.clear();
    if (p == "LWM2M/Object/Name") obj_.name = value;
    if (p == "LWM2M/Object/ObjectID") {
      object_id_ = id_of(value);
      if (!object_id_) fail("<ObjectID> '" + value + "' is not a number 0..65534");
    }
    if (p == "LWM2M/Object/MultipleInstances")
      set_bool(obj_multiple_, value, "Multiple", "Single", "MultipleInstances");
    if (p.rfind("LWM2M/Object/Resources/Item/", 0) == 0) item_field(stack_.back(), value);
    if (p == "LWM2M/Object/Resources/Item") finish_item();
    if (p == "LWM2M/Object") {
      if (!obj_multiple_) fail("<Object> has no <MultipleInstances> (Single or Multiple)");
      obj_.multiple = obj_multiple_.value_or(false);
    }
    stack_.pop_back();
  }

  void set_bool(std::optional<bool>& out, const std::string& value, const char* yes, const char* no,
                const char* tag) {
    if (value == yes || value == no) {
      out = value == yes;
    } else {
      fail(std::string("<") + tag + "> '" + value + "' is not " + yes + " or " + no);
    }
  }

  void item_field(const std::string& tag, const std::string& value) {
    if (tag == "Name") item_.name = value;
    if (tag == "MultipleInstances")
      set_bool(item_.multiple, value, "Multiple", "Single", "MultipleInstances");
    if (tag == "Mandatory") set_bool(item_.mandatory, value, "Mandatory", "Optional", "Mandatory");
    if (tag == "Operations") {
      static const std::pair<const char*, Ops> kOps[] = {
          {"", Ops::None}, {"R", Ops::R}, {"W", Ops::W}, {"RW", Ops::RW}, {"E", Ops::E}};
      for (const auto& [text, ops] : kOps)
        if (value == text) item_.ops = ops;
      if (!item_.ops) fail("<Operations> '" + value + "' is not R, W, RW, E or empty");
    }
    if (tag == "Type") {
      for (size_t i = 0; i < sizeof(kTypes) / sizeof(kTypes[0]); ++i)
        if (value == kTypes[i]) item_.type = kTypeValues[i];
      if (!item_.type)
        fail("<Type> '" + value +
             "' is not String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, "
             "Corelnk or empty (executable)");
    }
  }

  void finish_item() {
    if (!error_.empty()) return;
    const std::string which = "resource " + std::to_string(*item_.id);
    if (!item_.type) return fail(which + " has no <Type>");
    if (!item_.ops) return fail(which + " has no <Operations>");
    if (!item_.multiple) return fail(which + " has no <MultipleInstances>");
    if (!item_.mandatory) return fail(which + " has no <Mandatory>");
    if (!seen_.insert(*item_.id).second) return fail(which + " is defined twice");
    obj_.resources.push_back({*item_.id, item_.name.value_or(""), *item_.type, *item_.multiple,
                              *item_.mandatory, *item_.ops});
  }

  std::string name_;
  XML_Parser xml_;
  std::vector<std::string> stack_;
  std::string text_;
  std::string error_;
  int objects_ = 0;
  ObjectDef obj_{};
  std::optional<uint16_t> object_id_;
  std::optional<bool> obj_multiple_;
  Item item_;
  std::set<uint16_t> seen_;
};

}  // namespace

Result<ObjectDef> parse(const char* data, size_t len, const std::string& name) {
  return Parser(name).run(data, len);
}

Result<ObjectDef> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{ErrorCode::kInvalidArgument,
                 path + ": cannot be read (no such file, or no permission)"};
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string data = contents.str();
  return parse(data.data(), data.size(), path);
}

Result<ObjectRegistry> registry_with(const std::vector<std::string>& paths) {
  ObjectRegistry registry = ObjectRegistry::builtin();
  std::set<uint16_t> added;
  for (const std::string& path : paths) {
    HIL_TRY_ASSIGN(auto def, load(path));
    const std::string id = std::to_string(def.id);
    if (ObjectRegistry::builtin().find(def.id))
      return Error{ErrorCode::kInvalidArgument,
                   path + ": object " + id + " is builtin; give your object another id"};
    if (!added.insert(def.id).second)
      return Error{ErrorCode::kInvalidArgument,
                   path + ": object " + id + " is defined by another file too"};
    registry.add(std::move(def));
  }
  return registry;
}

}  // namespace hil::lwm2m::ddf
