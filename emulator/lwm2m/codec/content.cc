#include "emulator/lwm2m/codec/content.h"

#include <string>

#include "emulator/lwm2m/codec/senml.h"
#include "emulator/lwm2m/codec/senml_cbor.h"
#include "emulator/lwm2m/codec/senml_json.h"
#include "emulator/lwm2m/codec/text.h"
#include "emulator/lwm2m/codec/tlv.h"

namespace hil::lwm2m::content {
namespace {

using tlv::Record;
using tlv::Type;

Error unsupported(uint16_t content_format) {
  return Error{ErrorCode::kUnsupported,
               "unsupported content format " + format_name(content_format) +
                   "; supported: TLV (11542), plain text (0), opaque (42), SenML-JSON (110), "
                   "SenML-CBOR (112)"};
}

std::string path_str(uint16_t obj, uint16_t inst, uint16_t res) {
  return Path{obj, inst, res, std::nullopt}.str();
}

Error at(const std::string& path, const std::string& what) {
  return Error{ErrorCode::kInvalidArgument, path + ": " + what};
}

Status check_target(const ObjectDef& def, const Path& target) {
  if (target.depth() < 1 || target.depth() > 3) {
    return Error{ErrorCode::kInvalidArgument,
                 "'" + target.str() +
                     "' cannot carry object data: expected /obj, /obj/inst or "
                     "/obj/inst/res"};
  }
  if (*target.obj != def.id) {
    return Error{ErrorCode::kInvalidArgument, "'" + target.str() + "' is not in object " +
                                                  std::to_string(def.id) + " (" + def.name + ")"};
  }
  return ok_status();
}

// The definition of the resource a /o/i/r target names; unlike resources
// inside an instance, a missing one cannot be skipped.
Result<const ResourceDef*> target_resource(const ObjectDef& def, const Path& target) {
  const ResourceDef* rd = def.resource(*target.res);
  if (rd == nullptr) {
    return at(target.str(), "object " + std::to_string(def.id) + " (" + def.name +
                                ") has no resource " + std::to_string(*target.res));
  }
  return rd;
}

// --- TLV decoding ---

Result<Value> decode_leaf(const ResourceDef& rd, const Record& r, const std::string& path) {
  Result<Value> v = tlv::decode_value(rd.type, r.value);
  if (!v) return v.error().prefixed(path + ": ");
  return v;
}

// Adds `r` (a Resource or Multiple Resource record) to `inst`, or skips it
// when the definition lacks it.
Status add_resource(const ObjectDef& def, uint16_t inst_id, const Record& r, Instance& inst) {
  const std::string path = path_str(def.id, inst_id, r.id);
  if (r.type != Type::Resource && r.type != Type::MultipleResource) {
    return at(path, std::string("expected a Resource or Multiple Resource "
                                "record, got ") +
                        tlv::to_string(r.type));
  }
  const ResourceDef* rd = def.resource(r.id);
  if (rd == nullptr) return ok_status();
  if (rd->type == ResourceType::None) {
    return at(path, "is executable and carries no value");
  }
  const bool multiple = r.type == Type::MultipleResource;
  if (multiple != rd->multiple) {
    return at(path, std::string("is a ") + (rd->multiple ? "multiple" : "single") +
                        " resource but the payload has a " + tlv::to_string(r.type) + " record");
  }
  if (inst.count(r.id) != 0) return at(path, "appears twice");
  Resource res;
  res.multiple = multiple;
  if (!multiple) {
    HIL_TRY_ASSIGN(Value v, decode_leaf(*rd, r, path));
    res.values.emplace(0, std::move(v));
  } else {
    for (const Record& child : r.children) {
      const std::string child_path = path + "/" + std::to_string(child.id);
      HIL_TRY_ASSIGN(Value v, decode_leaf(*rd, child, child_path));
      if (!res.values.emplace(child.id, std::move(v)).second) {
        return at(child_path, "appears twice");
      }
    }
  }
  inst.emplace(r.id, std::move(res));
  return ok_status();
}

Result<Instance> decode_instance(const ObjectDef& def, uint16_t inst_id,
                                 const std::vector<Record>& records) {
  Instance inst;
  for (const Record& r : records) {
    HIL_TRY(add_resource(def, inst_id, r, inst));
  }
  return inst;
}

Result<Instances> decode_tlv(const ObjectDef& def, const Path& target,
                             const std::vector<Record>& records) {
  Instances out;
  const std::string where = target.str();
  switch (target.depth()) {
    case 1:
      for (const Record& r : records) {
        if (r.type != Type::ObjectInstance) {
          return at(where, std::string("a Write on an object needs Object "
                                       "Instance records, got ") +
                               tlv::to_string(r.type) + " " + std::to_string(r.id));
        }
        if (out.count(r.id) != 0) {
          return at(where + "/" + std::to_string(r.id), "appears twice");
        }
        HIL_TRY_ASSIGN(Instance inst, decode_instance(def, r.id, r.children));
        out.emplace(r.id, std::move(inst));
      }
      return out;
    case 2: {
      const std::vector<Record>* resources = &records;
      if (!records.empty() && records[0].type == Type::ObjectInstance) {
        if (records.size() != 1 || records[0].id != *target.inst) {
          return at(where,
                    "a Write on an instance takes resource records or "
                    "one Object Instance record with the same id");
        }
        resources = &records[0].children;
      }
      HIL_TRY_ASSIGN(Instance inst, decode_instance(def, *target.inst, *resources));
      out.emplace(*target.inst, std::move(inst));
      return out;
    }
    default: {
      HIL_TRY(target_resource(def, target));
      if (records.size() != 1) {
        return at(where,
                  "a Write on a resource takes one record, got " + std::to_string(records.size()));
      }
      if (records[0].id != *target.res) {
        return at(where, "the record's id " + std::to_string(records[0].id) +
                             " differs from the target resource");
      }
      Instance inst;
      HIL_TRY(add_resource(def, *target.inst, records[0], inst));
      out.emplace(*target.inst, std::move(inst));
      return out;
    }
  }
}

// --- TLV encoding ---

Result<Record> encode_resource(const ObjectDef& def, uint16_t inst_id, uint16_t rid,
                               const Resource& res) {
  const std::string path = path_str(def.id, inst_id, rid);
  const ResourceDef* rd = def.resource(rid);
  if (rd == nullptr) return at(path, "is not in the object definition");
  if (rd->type == ResourceType::None) {
    return at(path, "is executable and carries no value");
  }
  Record r;
  r.id = rid;
  if (!rd->multiple) {
    if (res.values.size() != 1 || res.values.count(0) == 0) {
      return at(path, "a single resource needs exactly one value, at key 0");
    }
    Result<Bytes> b = tlv::encode_value(rd->type, res.values.at(0));
    if (!b) return b.error().prefixed(path + ": ");
    r.value = std::move(b).value();
    return r;
  }
  r.type = Type::MultipleResource;
  for (const auto& [riid, value] : res.values) {
    Result<Bytes> b = tlv::encode_value(rd->type, value);
    if (!b) return b.error().prefixed(path + "/" + std::to_string(riid) + ": ");
    r.children.push_back({Type::ResourceInstance, riid, std::move(b).value(), {}});
  }
  return r;
}

Result<std::vector<Record>> encode_instance(const ObjectDef& def, uint16_t inst_id,
                                            const Instance& inst) {
  std::vector<Record> out;
  for (const auto& [rid, res] : inst) {
    HIL_TRY_ASSIGN(Record r, encode_resource(def, inst_id, rid, res));
    out.push_back(std::move(r));
  }
  return out;
}

Result<const Instance*> find_instance(const Path& target, const Instances& data) {
  auto it = data.find(*target.inst);
  if (it == data.end()) {
    return at(target.str(), "no such instance in the data to encode");
  }
  return &it->second;
}

Result<const Resource*> find_resource(const Path& target, const Instances& data) {
  HIL_TRY_ASSIGN(const Instance* inst, find_instance(target, data));
  auto it = inst->find(*target.res);
  if (it == inst->end()) {
    return at(target.str(), "no such resource in the data to encode");
  }
  return &it->second;
}

Result<std::vector<Record>> tlv_records(const ObjectDef& def, const Path& target,
                                        const Instances& data) {
  if (target.depth() == 1) {
    std::vector<Record> out;
    for (const auto& [iid, inst] : data) {
      HIL_TRY_ASSIGN(std::vector<Record> children, encode_instance(def, iid, inst));
      out.push_back({Type::ObjectInstance, iid, {}, std::move(children)});
    }
    return out;
  }
  if (target.depth() == 2) {
    HIL_TRY_ASSIGN(const Instance* inst, find_instance(target, data));
    return encode_instance(def, *target.inst, *inst);
  }
  HIL_TRY_ASSIGN(const Resource* res, find_resource(target, data));
  HIL_TRY_ASSIGN(Record r, encode_resource(def, *target.inst, *target.res, *res));
  return std::vector<Record>{std::move(r)};
}

// The 24-bit length field bounds every record; a container is at least as
// long as anything inside it, so checking the top level suffices.
Status check_lengths(const std::vector<Record>& records) {
  for (const Record& r : records) {
    const size_t len = r.children.empty() ? r.value.size() : tlv::encode(r.children).size();
    if (len > tlv::kMaxValueLength) {
      return Error{ErrorCode::kInvalidArgument,
                   "TLV cannot carry " + std::string(tlv::to_string(r.type)) + " " +
                       std::to_string(r.id) + " of " + std::to_string(len) +
                       " bytes (at most 16 MiB - 1)"};
    }
  }
  return ok_status();
}

// --- single values: plain text and opaque ---

bool is_single_value_format(uint16_t f) { return f == format::kText || f == format::kOpaque; }

Result<const ResourceDef*> single_value_resource(const ObjectDef& def, const Path& target,
                                                 uint16_t content_format) {
  if (target.depth() != 3) {
    return at(target.str(), format_name(content_format) +
                                " carries one resource value; the target must "
                                "be /obj/inst/res");
  }
  HIL_TRY_ASSIGN(const ResourceDef* rd, target_resource(def, target));
  if (rd->multiple) {
    return at(target.str(), format_name(content_format) + " cannot carry a multiple resource");
  }
  return rd;
}

// --- SenML-JSON and SenML-CBOR ---

bool is_senml_format(uint16_t f) { return f == format::kSenmlJson || f == format::kSenmlCbor; }

// Adds one record to `out`: its resolved name is /o/i/r for a single
// resource or /o/i/r/ri for an instance of a multiple one, inside `target`.
Status add_senml_record(const ObjectDef& def, const Path& target, size_t index,
                        const senml::Record& r, Instances& out) {
  Result<Path> parsed = Path::parse(r.name);
  if (!parsed)
    return at(target.str(), "record " + std::to_string(index) + ": " + parsed.error().message);
  const Path& p = *parsed;
  const std::string path = p.str();
  if (p.depth() < 3) {
    return at(path,
              "a Write record must name a resource (/obj/inst/res) or a resource "
              "instance (/obj/inst/res/res-inst)");
  }
  if (*p.obj != def.id || (target.depth() >= 2 && *p.inst != *target.inst) ||
      (target.depth() == 3 && *p.res != *target.res)) {
    return at(path, "is outside the target " + target.str());
  }
  const ResourceDef* rd = def.resource(*p.res);
  if (rd == nullptr) return ok_status();  // a /o/i/r target was checked already
  const std::string res_path = path_str(def.id, *p.inst, *p.res);
  if (rd->type == ResourceType::None) return at(res_path, "is executable and carries no value");
  if (rd->multiple && p.depth() == 3) {
    return at(path,
              "is a multiple resource; records must name its instances (" + path + "/<res-inst>)");
  }
  if (!rd->multiple && p.depth() == 4) {
    return at(path, "names an instance of " + res_path + ", which is a single resource");
  }
  Result<Value> v = senml::to_value(rd->type, r);
  if (!v) return v.error().prefixed(path + ": ");
  Instance& inst = out[*p.inst];
  auto [it, fresh] = inst.try_emplace(*p.res);
  Resource& res = it->second;
  if (fresh) res.multiple = rd->multiple;
  const uint16_t key = rd->multiple ? *p.riid : 0;
  if (!res.values.emplace(key, std::move(v).value()).second) return at(path, "appears twice");
  return ok_status();
}

// SenML names every value by its full path, so the same records serve /o,
// /o/i and /o/i/r; the target only bounds them.
Result<Instances> decode_senml(const ObjectDef& def, const Path& target,
                               const std::vector<senml::Record>& records) {
  Instances out;
  if (target.depth() == 2) out[*target.inst];
  if (target.depth() == 3) {
    HIL_TRY(target_resource(def, target));
    if (records.empty()) return at(target.str(), "a Write on a resource needs a record");
  }
  for (size_t i = 0; i < records.size(); ++i) {
    HIL_TRY(add_senml_record(def, target, i, records[i], out));
  }
  return out;
}

Status senml_resource(const ObjectDef& def, uint16_t inst_id, uint16_t rid, const Resource& res,
                      std::vector<senml::Record>& out) {
  const std::string path = path_str(def.id, inst_id, rid);
  const ResourceDef* rd = def.resource(rid);
  if (rd == nullptr) return at(path, "is not in the object definition");
  if (rd->type == ResourceType::None) {
    return at(path, "is executable and carries no value");
  }
  if (!rd->multiple && (res.values.size() != 1 || res.values.count(0) == 0)) {
    return at(path, "a single resource needs exactly one value, at key 0");
  }
  for (const auto& [riid, value] : res.values) {
    senml::Record r;
    r.name = rd->multiple ? path + "/" + std::to_string(riid) : path;
    Status s = senml::set_value(rd->type, value, r);
    if (!s) return s.error().prefixed(r.name + ": ");
    out.push_back(std::move(r));
  }
  return ok_status();
}

Status senml_instance(const ObjectDef& def, uint16_t inst_id, const Instance& inst,
                      std::vector<senml::Record>& out) {
  for (const auto& [rid, res] : inst) {
    HIL_TRY(senml_resource(def, inst_id, rid, res, out));
  }
  return ok_status();
}

Result<std::vector<senml::Record>> senml_records(const ObjectDef& def, const Path& target,
                                                 const Instances& data) {
  std::vector<senml::Record> out;
  if (target.depth() == 1) {
    for (const auto& [iid, inst] : data) {
      HIL_TRY(senml_instance(def, iid, inst, out));
    }
    return out;
  }
  if (target.depth() == 2) {
    HIL_TRY_ASSIGN(const Instance* inst, find_instance(target, data));
    HIL_TRY(senml_instance(def, *target.inst, *inst, out));
    return out;
  }
  HIL_TRY(target_resource(def, target));
  HIL_TRY_ASSIGN(const Resource* res, find_resource(target, data));
  HIL_TRY(senml_resource(def, *target.inst, *target.res, *res, out));
  return out;
}

// "/3/" for an object, "/3/0/" for an instance or a resource in it: the
// names then read "0/1" or "1" as in the examples of TS Core 7.4.4.
std::string senml_base_name(const Path& target) {
  Path base = target;
  base.res.reset();
  return base.str() + "/";
}

}  // namespace

std::string format_name(uint16_t f) {
  switch (f) {
    case format::kText:
      return "plain text (0)";
    case format::kLinkFormat:
      return "link format (40)";
    case format::kOpaque:
      return "opaque (42)";
    case format::kSenmlJson:
      return "SenML-JSON (110)";
    case format::kSenmlCbor:
      return "SenML-CBOR (112)";
    case format::kTlv:
      return "TLV (11542)";
  }
  return "content format " + std::to_string(f);
}

Result<Instances> decode_write(const ObjectDef& def, const Path& target, uint16_t content_format,
                               const uint8_t* data, size_t len) {
  if (content_format != format::kTlv && !is_single_value_format(content_format) &&
      !is_senml_format(content_format)) {
    return unsupported(content_format);
  }
  HIL_TRY(check_target(def, target));
  if (content_format == format::kTlv) {
    Result<std::vector<Record>> records = tlv::decode(data, len);
    if (!records) return records.error().prefixed(target.str() + ": ");
    return decode_tlv(def, target, *records);
  }
  if (is_senml_format(content_format)) {
    Result<std::vector<senml::Record>> records = content_format == format::kSenmlJson
                                                     ? senml_json::decode(data, len)
                                                     : senml_cbor::decode(data, len);
    if (!records) return records.error().prefixed(target.str() + ": ");
    return decode_senml(def, target, *records);
  }
  HIL_TRY_ASSIGN(const ResourceDef* rd, single_value_resource(def, target, content_format));
  if (rd->type == ResourceType::None) {
    return at(target.str(), "is executable and carries no value");
  }
  Result<Value> v = content_format == format::kText ? text::decode(rd->type, data, len)
                                                    : opaque::decode(rd->type, data, len);
  if (!v) return v.error().prefixed(target.str() + ": ");
  return Instances{{*target.inst, {{*target.res, Resource::single(std::move(v).value())}}}};
}

Result<Bytes> encode(const ObjectDef& def, const Path& target, const Instances& data,
                     uint16_t content_format) {
  if (content_format != format::kTlv && !is_single_value_format(content_format) &&
      !is_senml_format(content_format)) {
    return unsupported(content_format);
  }
  HIL_TRY(check_target(def, target));
  if (content_format == format::kTlv) {
    HIL_TRY_ASSIGN(std::vector<Record> records, tlv_records(def, target, data));
    HIL_TRY(check_lengths(records));
    return tlv::encode(records);
  }
  if (is_senml_format(content_format)) {
    HIL_TRY_ASSIGN(std::vector<senml::Record> records, senml_records(def, target, data));
    const std::string base = senml_base_name(target);
    Result<Bytes> b = content_format == format::kSenmlJson ? senml_json::encode(records, base)
                                                           : senml_cbor::encode(records, base);
    if (!b) return b.error().prefixed(target.str() + ": ");
    return b;
  }
  HIL_TRY_ASSIGN(const ResourceDef* rd, single_value_resource(def, target, content_format));
  HIL_TRY_ASSIGN(const Resource* res, find_resource(target, data));
  auto value = res->values.find(0);
  if (res->values.size() != 1 || value == res->values.end()) {
    return at(target.str(), "a single resource needs exactly one value, at key 0");
  }
  Result<Bytes> b = content_format == format::kText ? text::encode(rd->type, value->second)
                                                    : opaque::encode(rd->type, value->second);
  if (!b) return b.error().prefixed(target.str() + ": ");
  return b;
}

}  // namespace hil::lwm2m::content
