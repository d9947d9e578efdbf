// The pybind11 module lwm2m_hil._core. It only binds: the logic lives in
// emulator/ (C++) and in the lwm2m_hil package (Python). Every call that
// waits on an event loop releases the GIL.
#include <arpa/inet.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>

#include "bindings/errors.h"
#include "emulator/lwm2m/objects/ddf.h"
#include "emulator/runtime/runtime.h"
#include "emulator/server/bootstrap_config.h"

namespace py = pybind11;
using namespace hil;

namespace {

template <typename T>
T unwrap(Result<T> r) {
  if (!r) bindings::raise_error(r.error());
  return std::move(r.value());
}

void check(const Status& s) {
  if (!s) bindings::raise_error(s.error());
}

// Runs `fn` without the GIL (it waits on an event loop) and returns its result.
template <typename F>
auto release_gil(F&& fn) {
  py::gil_scoped_release release;
  return fn();
}

// A virtual-time run holds the calling thread for as long as the protocol
// time takes to compute: every 100 ms of wall time it lets Python run its
// signal handlers (Ctrl-C), and the run stops if one raised.
class SignalPoll {
 public:
  // Call without the GIL. True once a handler raised (the error is pending).
  bool raised() {
    const auto now = std::chrono::steady_clock::now();
    if (raised_ || now < next_) return raised_;
    next_ = now + std::chrono::milliseconds(100);
    py::gil_scoped_acquire gil;
    raised_ = PyErr_CheckSignals() != 0;
    return raised_;
  }
  // Call with the GIL: raises the handler's exception, if any.
  void rethrow() const {
    if (raised_) throw py::error_already_set();
  }

 private:
  bool raised_ = false;
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now();
};

lwm2m::Profile profile_arg(const std::string& name) {
  auto p = lwm2m::parse_profile(name);
  if (!p) throw py::value_error("profile: '" + name + "' is not one of 'cr', '1.0', '1.1'");
  return *p;
}

lwm2m::Request request_arg(const std::string& method, const std::string& path,
                           const std::string& payload, int content_format) {
  lwm2m::Request r;
  const std::pair<const char*, lwm2m::Method> methods[] = {{"GET", lwm2m::Method::Get},
                                                           {"POST", lwm2m::Method::Post},
                                                           {"PUT", lwm2m::Method::Put},
                                                           {"DELETE", lwm2m::Method::Delete}};
  auto m = std::find_if(std::begin(methods), std::end(methods),
                        [&](const auto& e) { return method == e.first; });
  if (m == std::end(methods))
    throw py::value_error("method: '" + method + "' is not GET, POST, PUT or DELETE");
  r.method = m->second;
  if (path.empty() || path[0] != '/')
    throw py::value_error("path: expected /obj/inst/res, got '" + path + "'");
  std::stringstream in(path.substr(1));
  for (std::string seg; std::getline(in, seg, '/');)
    if (!seg.empty()) r.path.push_back(seg);
  if (content_format > 65535) throw py::value_error("content_format: must be 0..65535");
  if (content_format >= 0) r.content_format = static_cast<uint16_t>(content_format);
  r.payload.assign(payload.begin(), payload.end());
  return r;
}

coap::Timing timing_arg(double ack_timeout_s, double random_factor, int max_retransmit) {
  if (!(ack_timeout_s >= 0.001 && ack_timeout_s <= 60))
    throw py::value_error("ack_timeout: must be 0.001..60 seconds, got " +
                          std::to_string(ack_timeout_s));
  if (!(random_factor >= 1.0 && random_factor <= 4.0))
    throw py::value_error("ack_random_factor: must be 1.0..4.0, got " +
                          std::to_string(random_factor));
  if (max_retransmit < 0 || max_retransmit > 20)
    throw py::value_error("max_retransmit: must be 0..20, got " + std::to_string(max_retransmit));
  return coap::Timing{static_cast<int64_t>(ack_timeout_s * 1000 + 0.5), random_factor,
                      max_retransmit};
}

// A server's cap (max_results, max_events, ...): at least 1.
size_t cap_arg(const char* name, int64_t value) {
  if (value < 1)
    throw py::value_error(std::string(name) + ": must be >= 1, got " + std::to_string(value));
  return static_cast<size_t>(value);
}

// Peers may send bytes that are not UTF-8 (endpoint names, event details);
// Python gets them escaped rather than an exception.
py::str text(const std::string& s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::object to_py(const lwm2m::Value& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          return py::bytes(reinterpret_cast<const char*>(x.data()), x.size());
        } else if constexpr (std::is_same_v<T, lwm2m::ObjLink>) {
          return py::make_tuple(x.obj, x.inst);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return text(x);
        } else {
          return py::cast(x);
        }
      },
      v);
}

py::object to_py(const lwm2m::Resource& r) {
  if (!r.multiple) return r.values.empty() ? py::none() : to_py(r.values.begin()->second);
  py::dict d;
  for (const auto& [riid, v] : r.values) d[py::int_(riid)] = to_py(v);
  return d;
}

py::dict to_py(const lwm2m::ObjectTree& t) {
  py::dict objects;
  for (const auto& [obj, instances] : t.objects()) {
    py::dict insts;
    for (const auto& [inst, resources] : instances) {
      py::dict res;
      for (const auto& [rid, r] : resources) res[py::int_(rid)] = to_py(r);
      insts[py::int_(inst)] = res;
    }
    objects[py::int_(obj)] = insts;
  }
  return objects;
}

py::dict to_py(const radio::DirectionCounters& c) {
  py::dict d;
  d["sent"] = c.sent;
  d["delivered"] = c.delivered;
  d["dropped"] = c.dropped;
  py::dict by_cause;
  by_cause["loss"] = c.dropped_loss;
  by_cause["burst"] = c.dropped_burst;
  by_cause["partition"] = c.dropped_partition;
  by_cause["asleep"] = c.dropped_asleep;
  by_cause["mtu"] = c.dropped_mtu;
  by_cause["rule"] = c.dropped_rule;
  by_cause["nat"] = c.dropped_nat;
  d["dropped_by"] = by_cause;
  d["duplicated"] = c.duplicated;
  d["corrupted"] = c.corrupted;
  d["delayed"] = c.delayed;
  d["reordered"] = c.reordered;
  d["nat_rebinds"] = c.nat_rebinds;
  return d;
}

py::list to_py(const std::vector<Event>& events);

py::dict to_py(const server::EndpointResult& r) {
  py::dict d;
  d["endpoint"] = text(r.endpoint);
  d["outcome"] = r.outcome ? py::cast(server::to_string(*r.outcome)) : py::none();
  d["reason"] = text(r.reason);
  d["profile"] = lwm2m::to_string(r.profile);
  d["content_format"] = r.content_format;
  d["sessions"] = r.sessions;
  d["back_to_back"] = r.back_to_back;
  d["throttled"] = r.throttled;
  d["requests_sent"] = r.requests_sent;
  d["error_responses"] = r.error_responses;
  d["finish_sent"] = r.finish_sent;
  d["events_evicted"] = r.events_evicted;
  d["started_ms"] = r.started_ms;
  d["ended_ms"] = r.ended_ms;
  d["events"] = to_py(r.events);
  return d;
}

py::list to_py(const std::vector<Event>& events) {
  py::list out;
  for (const auto& e : events) out.append(py::make_tuple(e.time_ms, text(e.kind), text(e.detail)));
  return out;
}

// The device parameters Python may set; defaults are the C++ defaults.
struct DeviceSpec {
  std::string endpoint = "dev";
  std::string bootstrap_uri;
  std::string psk_identity;
  std::string psk_key;  // bytes; empty: NoSec
  std::string profile = "cr";
  bool request_finish = true;
  bool finish_fallback = false;
  double finish_timeout = 247.0;
  double idle_timeout = 5.0;
  int64_t hold_off = 0;
  std::string server_uri;
  int64_t server_ssid = 1;
  int64_t server_lifetime = 300;
  uint32_t flash_size = 0;  // 0: no flash
  uint32_t flash_sector_size = 4096;
  uint32_t flash_page_size = 256;
  std::string flash_image;
  std::string flash_violation = "and";
  uint32_t flash_endurance = 100000;
  double flash_program_latency = 0;  // seconds per program operation
  double flash_erase_latency = 0;    // seconds per sector erase
  double reboot_after_power_cut = 0.1;
  double retry_initial = 2.0, retry_factor = 2.0, retry_max = 120.0, retry_jitter = 0.5;
  int max_bootstrap_attempts = 0;
  int register_attempts = 3;
  double ack_timeout = 2.0, ack_random_factor = 1.5;
  int max_retransmit = 4;
  double bootstrap_linger = -1;
  bool record_messages = true;
  std::vector<std::string> objects;  // DDF files of the user's own objects

  device::DeviceConfig build() const {
    auto seconds = [](const char* name, double v) {
      if (!(v >= 0)) throw py::value_error(std::string(name) + ": must be >= 0 seconds");
      return static_cast<TimeMs>(v * 1000 + 0.5);
    };
    if (bootstrap_uri.empty())
      throw py::value_error("bootstrap_uri: required, e.g. the uri of emulator.bootstrap_server()");
    if (!(retry_jitter >= 0 && retry_jitter <= 1))
      throw py::value_error("retry_jitter: must be 0..1");
    if (!(retry_factor >= 1)) throw py::value_error("retry_factor: must be >= 1");
    if (hold_off < 0) throw py::value_error("hold_off: must be >= 0 seconds");
    if (register_attempts < 1) throw py::value_error("register_attempts: must be >= 1");
    device::DeviceConfig c;
    c.client.endpoint = endpoint;
    c.client.profile = profile_arg(profile);
    c.client.request_finish = request_finish;
    c.client.finish_fallback = finish_fallback;
    c.client.finish_timeout_ms = seconds("finish_timeout", finish_timeout);
    c.client.idle_timeout_ms = seconds("idle_timeout", idle_timeout);
    c.client.bootstrap_retry = {seconds("retry_initial", retry_initial), retry_factor,
                                seconds("retry_max", retry_max), retry_jitter};
    c.client.register_retry = c.client.bootstrap_retry;
    c.client.max_bootstrap_attempts = max_bootstrap_attempts;
    c.client.register_attempts = register_attempts;
    c.timing = timing_arg(ack_timeout, ack_random_factor, max_retransmit);
    c.factory.bootstrap_uri = bootstrap_uri;
    const bool coaps = bootstrap_uri.rfind("coaps://", 0) == 0;
    if (coaps && (psk_key.empty() || psk_identity.empty()))
      throw py::value_error(
          "psk_identity, psk_key: a coaps:// bootstrap_uri needs both (DTLS with a pre-shared "
          "key)");
    if (!coaps && !psk_key.empty())
      throw py::value_error(
          "psk_key: given, but bootstrap_uri is not coaps://; use the server's "
          "secure_uri, or drop the key for NoSec");
    c.factory.bootstrap_psk_identity = psk_identity;
    c.factory.bootstrap_psk_key.assign(psk_key.begin(), psk_key.end());
    c.factory.hold_off_s = hold_off;
    if (server_ssid < 1 || server_ssid > 65534)
      throw py::value_error("server_ssid: must be 1..65534");
    if (server_lifetime < 1) throw py::value_error("server_lifetime: must be >= 1 second");
    c.factory.server_uri = server_uri;
    c.factory.server_ssid = server_ssid;
    c.factory.server_lifetime_s = server_lifetime;
    if (flash_size > 0) {
      device::FlashConfig f;
      f.geometry = {flash_size, flash_sector_size, flash_page_size};
      check(device::validate(f));
      if (flash_violation != "and" && flash_violation != "error")
        throw py::value_error("flash_violation: '" + flash_violation + "' is not 'and' or 'error'");
      f.on_violation =
          flash_violation == "and" ? flash::ViolationPolicy::kAnd : flash::ViolationPolicy::kError;
      f.endurance = flash_endurance;
      f.image_path = flash_image;
      if (!(flash_program_latency >= 0 && flash_erase_latency >= 0))
        throw py::value_error("flash_program_latency, flash_erase_latency: must be >= 0 seconds");
      f.program_latency_us = static_cast<uint32_t>(flash_program_latency * 1e6 + 0.5);
      f.erase_latency_us = static_cast<uint32_t>(flash_erase_latency * 1e6 + 0.5);
      c.flash = f;
    }
    c.reboot_after_power_cut_ms =
        reboot_after_power_cut < 0 ? -1 : seconds("reboot_after_power_cut", reboot_after_power_cut);
    c.bootstrap_linger_ms =
        bootstrap_linger < 0 ? -1 : seconds("bootstrap_linger", bootstrap_linger);
    c.record_messages = record_messages;
    if (!objects.empty()) {
      auto registry = lwm2m::ddf::registry_with(objects);
      if (!registry) bindings::raise_error(registry.error().prefixed("objects: "));
      c.objects = std::make_shared<const lwm2m::ObjectRegistry>(std::move(*registry));
    }
    return c;
  }
};

template <typename Handle>
bool all_devices(const std::vector<Handle>& devices, const std::vector<std::string>& states,
                 const std::vector<std::string>& exits) {
  auto in = [](const std::vector<std::string>& set, const char* v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  for (const auto& d : devices)
    if (!in(states, lwm2m::to_string(d.state())) || !in(exits, lwm2m::to_string(d.last_exit())))
      return false;
  return true;
}

// --- QEMU devices (emulator/qemu/qemu_device.h) -------------------------------

// What Python sets for a device that runs a firmware image; the client
// options reach the image as its -append arguments (`args`).
struct QemuSpec {
  std::string endpoint = "dev";
  std::string bootstrap_uri;
  std::string image;
  std::string qemu = "qemu-system-arm";
  std::string machine = "mps2-an385";
  std::string work_dir;
  std::string flash_file = "flash.bin";  // empty: RAM only
  uint32_t flash_size = 8192;
  uint32_t flash_sector_size = 4096;
  uint32_t flash_page_size = 256;
  std::vector<std::string> args;
  double reboot_after_power_cut = 0.1;
  bool record_messages = true;
  bool append = true;
  std::string state_source = "both";
  std::map<std::string, std::string> server_map;  // "a.b.c.d:port" -> coap://a.b.c.d:port

  qemu::QemuDeviceConfig build() const {
    if (image.empty()) throw py::value_error("firmware: the path of a firmware image is required");
    if (bootstrap_uri.rfind("coap://", 0) != 0)
      throw py::value_error("bootstrap_uri: a firmware image speaks NoSec only (coap://), got '" +
                            bootstrap_uri + "'");
    if (work_dir.empty()) throw py::value_error("work_dir: required");
    for (const auto& a : args)
      if (a.find('=') == std::string::npos || a.find(' ') != std::string::npos)
        throw py::value_error("firmware_args: '" + a + "' is not key=value without spaces");
    qemu::QemuDeviceConfig c;
    c.endpoint = endpoint;
    c.bootstrap_uri = bootstrap_uri;
    c.image = image;
    c.qemu = qemu;
    c.machine = machine;
    c.work_dir = work_dir;
    c.flash_file = flash_file;
    c.flash_geometry = {flash_size, flash_sector_size, flash_page_size};
    if (!flash_file.empty()) check(flash::NorFlash::validate(c.flash_geometry));
    c.args = args;
    c.reboot_after_power_cut_ms =
        reboot_after_power_cut < 0 ? -1 : static_cast<int64_t>(reboot_after_power_cut * 1000 + 0.5);
    c.record_messages = record_messages;
    c.append = append;
    c.state_source = parse_state_source(state_source);
    for (const auto& [image, host] : server_map)
      c.server_map.emplace_back(parse_ipv4("server_map key", image),
                                parse_ipv4("server_map['" + image + "']", host));
    return c;
  }

  static qemu::StateSource parse_state_source(const std::string& s) {
    if (s == "uart") return qemu::StateSource::kUart;
    if (s == "wire") return qemu::StateSource::kWire;
    if (s == "both") return qemu::StateSource::kBoth;
    throw py::value_error("state_source: '" + s + "' is none of 'uart', 'wire', 'both'");
  }

  // "a.b.c.d:port" or "coap://a.b.c.d:port": a firmware image has no DNS.
  static qemu::Ipv4Endpoint parse_ipv4(const std::string& what, const std::string& text) {
    std::string s = text.rfind("coap://", 0) == 0 ? text.substr(7) : text;
    auto colon = s.rfind(':');
    in_addr a{};
    char* end = nullptr;
    unsigned long port =
        colon == std::string::npos ? 0 : std::strtoul(s.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1 ||
        end == nullptr || *end != '\0' || port == 0 || port > 65535)
      throw py::value_error(
          what + ": '" + text +
          "' is not an IPv4 address and port (a.b.c.d:port or coap://a.b.c.d:port)");
    return qemu::Ipv4Endpoint{ntohl(a.s_addr), static_cast<uint16_t>(port)};
  }
};

py::dict store_to_py(const flash::StoreView& v) {
  py::list sectors, records;
  for (const auto& s : v.sectors) {
    py::dict x;
    x["sector"] = s.sector;
    x["header_ok"] = s.header_ok;
    x["generation"] = s.generation;
    x["active"] = s.active;
    x["bad"] = s.bad;
    x["write_offset"] = s.write_offset;
    sectors.append(x);
  }
  for (const auto& r : v.records) {
    py::dict x;
    x["sector"] = r.sector;
    x["offset"] = r.offset;
    x["header_ok"] = r.header_ok;
    x["seq"] = r.seq;
    x["kind"] = r.kind == flash::RecordKind::kPayload ? "payload" : "boot";
    x["length"] = r.length;
    x["boot_count"] = r.boot_count;
    x["committed"] = r.committed;
    x["crc_ok"] = r.crc_ok;
    x["live"] = r.live;
    records.append(x);
  }
  py::dict out;
  out["sectors"] = sectors;
  out["records"] = records;
  return out;
}

// What native and QEMU devices share: identity, state, timeline, power,
// flash contents and the radio link.
template <typename H>
void bind_device_common(py::class_<H>& c) {
  c.def_property_readonly("endpoint", &H::endpoint)
      .def_property_readonly("state", [](const H& d) { return lwm2m::to_string(d.state()); })
      .def_property_readonly("last_exit",
                             [](const H& d) { return lwm2m::to_string(d.last_exit()); })
      .def_property_readonly("powered", &H::powered)
      .def_property_readonly("address", &H::address, py::call_guard<py::gil_scoped_release>())
      .def("timeline",
           [](const H& d) {
             std::vector<Event> ev = release_gil([&] { return d.timeline(); });
             return to_py(ev);
           })
      .def("exit_counts", &H::exit_counts, py::call_guard<py::gil_scoped_release>())
      .def("bootstrap_duration_ms", &H::bootstrap_duration_ms,
           py::call_guard<py::gil_scoped_release>())
      .def("start", [](H& d) { check(release_gil([&] { return d.start(); })); })
      .def("reboot", [](H& d) { check(release_gil([&] { return d.reboot(); })); })
      .def("power_cut", &H::power_cut, py::call_guard<py::gil_scoped_release>())
      .def("power_cuts", &H::power_cuts, py::call_guard<py::gil_scoped_release>())
      .def("torn_configs", &H::torn_configs, py::call_guard<py::gil_scoped_release>())
      .def("flash_image",
           [](const H& d) {
             auto image = unwrap(release_gil([&] { return d.flash_image(); }));
             return py::bytes(reinterpret_cast<const char*>(image.data()), image.size());
           })
      .def("flash_store",
           [](const H& d) {
             return store_to_py(unwrap(release_gil([&] { return d.flash_store(); })));
           })
      .def("configure_link",
           [](H& d, const radio::LinkConfig& c) {
             check(release_gil([&] { return d.configure_link(c); }));
           })
      .def("add_rule",
           [](H& d, const std::vector<std::pair<std::string, std::string>>& f) {
             auto rule = unwrap(radio::parse_rule(f));
             check(release_gil([&] { return d.add_rule(rule); }));
           })
      .def("clear_rules", &H::clear_rules, py::call_guard<py::gil_scoped_release>())
      .def("rebind_nat", &H::rebind_nat, py::call_guard<py::gil_scoped_release>())
      .def("link_decisions", &H::link_decisions, py::call_guard<py::gil_scoped_release>())
      .def("link_counters",
           [](H& d) {
             auto c = release_gil([&] { return d.link_counters(); });
             py::dict out;
             out["total"] = to_py(c.total);
             out["uplink"] = to_py(c.uplink);
             out["downlink"] = to_py(c.downlink);
             return out;
           })
      .def("capture", [](H& d, const std::string& path) {
        check(release_gil([&] { return d.capture(path); }));
      });
}

void bind_qemu(py::module_& m) {
  using runtime::QemuDeviceHandle;
  py::class_<QemuSpec> spec(m, "QemuSpec");
  spec.def(py::init<>());
  spec.def("validate", [](const QemuSpec& s) { s.build(); });
#define FIELD(name) spec.def_readwrite(#name, &QemuSpec::name)
  FIELD(endpoint);
  FIELD(bootstrap_uri);
  FIELD(image);
  FIELD(qemu);
  FIELD(machine);
  FIELD(work_dir);
  FIELD(flash_file);
  FIELD(flash_size);
  FIELD(flash_sector_size);
  FIELD(flash_page_size);
  FIELD(args);
  FIELD(reboot_after_power_cut);
  FIELD(record_messages);
  FIELD(append);
  FIELD(state_source);
  FIELD(server_map);
#undef FIELD

  py::class_<QemuDeviceHandle> qemu(m, "QemuDeviceHandle");
  bind_device_common(qemu);
  qemu.def_property_readonly("work_dir", &QemuDeviceHandle::work_dir)
      .def_property_readonly("flash_path", &QemuDeviceHandle::flash_path)
      .def_property_readonly("pid", &QemuDeviceHandle::pid,
                             py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("source_disagreements", &QemuDeviceHandle::source_disagreements,
                             py::call_guard<py::gil_scoped_release>())
      .def("arm_power_cut", &QemuDeviceHandle::arm_power_cut, py::arg("op"),
           py::arg("byte") = py::none(), py::call_guard<py::gil_scoped_release>());

  auto rt = py::reinterpret_borrow<py::class_<runtime::Runtime>>(m.attr("Runtime"));
  rt.def(
      "add_qemu_devices",
      [](runtime::Runtime& r, const QemuSpec& spec, size_t count, const std::string& prefix,
         bool start) {
        auto config = spec.build();
        auto made = release_gil([&] { return r.add_qemu_devices(config, count, prefix, start); });
        return unwrap(std::move(made));
      },
      py::arg("spec"), py::arg("count"), py::arg("prefix"), py::arg("start"));
  // wait_devices for a mix of native and QEMU devices.
  rt.def(
      "wait_all",
      [](runtime::Runtime& r, std::vector<runtime::DeviceHandle> devices,
         std::vector<QemuDeviceHandle> qemu_devices, std::vector<std::string> states,
         std::vector<std::string> exits, double timeout) {
        py::gil_scoped_release release;
        return r.wait(
            [&] {
              return all_devices(devices, states, exits) &&
                     all_devices(qemu_devices, states, exits);
            },
            timeout);
      },
      py::arg("devices"), py::arg("qemu_devices"), py::arg("states"), py::arg("exits"),
      py::arg("timeout"));
}
}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lwm2m-hil emulator core (use the lwm2m_hil package, not this module)";
  bindings::register_errors(m);

  py::class_<DeviceSpec> spec(m, "DeviceSpec");
  spec.def(py::init<>());
  spec.def("validate", [](const DeviceSpec& s) { s.build(); });
#define FIELD(name) spec.def_readwrite(#name, &DeviceSpec::name)
  FIELD(endpoint);
  FIELD(bootstrap_uri);
  FIELD(psk_identity);
  spec.def_property(
      "psk_key", [](const DeviceSpec& s) { return py::bytes(s.psk_key); },
      [](DeviceSpec& s, const py::bytes& b) { s.psk_key = b; });
  FIELD(profile);
  FIELD(request_finish);
  FIELD(finish_fallback);
  FIELD(finish_timeout);
  FIELD(idle_timeout);
  FIELD(hold_off);
  FIELD(retry_initial);
  FIELD(retry_factor);
  FIELD(retry_max);
  FIELD(retry_jitter);
  FIELD(max_bootstrap_attempts);
  FIELD(register_attempts);
  FIELD(ack_timeout);
  FIELD(ack_random_factor);
  FIELD(max_retransmit);
  FIELD(bootstrap_linger);
  FIELD(record_messages);
  FIELD(server_uri);
  FIELD(server_ssid);
  FIELD(server_lifetime);
  FIELD(flash_size);
  FIELD(flash_sector_size);
  FIELD(flash_page_size);
  FIELD(flash_image);
  FIELD(flash_violation);
  FIELD(flash_endurance);
  FIELD(flash_program_latency);
  FIELD(flash_erase_latency);
  FIELD(reboot_after_power_cut);
  FIELD(objects);
#undef FIELD

  py::class_<radio::Partition>(m, "Partition")
      .def(py::init<>())
      .def_readwrite("start_ms", &radio::Partition::start_ms)
      .def_readwrite("end_ms", &radio::Partition::end_ms)
      .def_readwrite("uplink", &radio::Partition::uplink)
      .def_readwrite("downlink", &radio::Partition::downlink);
  py::class_<radio::SleepWindow>(m, "SleepWindow")
      .def(py::init<>())
      .def_readwrite("start_ms", &radio::SleepWindow::start_ms)
      .def_readwrite("end_ms", &radio::SleepWindow::end_ms);
  py::class_<radio::LinkConfig> link(m, "LinkConfig");
  link.def(py::init<>());
#define LINK(name) link.def_readwrite(#name, &radio::LinkConfig::name)
  LINK(loss);
  LINK(delay_ms);
  LINK(jitter_ms);
  LINK(duplicate);
  LINK(reorder);
  LINK(reorder_ms);
  LINK(corrupt);
  LINK(bandwidth_bps);
  LINK(mtu);
  LINK(nat_idle_ms);
  LINK(partitions);
  LINK(sleeps);
#undef LINK
  link.def("set_burst",
           [](radio::LinkConfig& c, double p_gb, double p_bg, double loss_good, double loss_bad) {
             c.burst = radio::GilbertElliott{true, p_gb, p_bg, loss_good, loss_bad};
           });
  link.def("validate", [](const radio::LinkConfig& c) { check(radio::validate(c)); });

  py::class_<runtime::DeviceHandle> device(m, "DeviceHandle");
  bind_device_common(device);
  device
      .def(
          "objects",
          [](const runtime::DeviceHandle& d, bool staged) {
            lwm2m::ObjectTree t = release_gil([&] { return d.objects(staged); });
            return to_py(t);
          },
          py::arg("staged") = false)
      .def("factory_reset",
           [](runtime::DeviceHandle& d) { check(release_gil([&] { return d.factory_reset(); })); })
      .def(
          "arm_power_cut",
          [](runtime::DeviceHandle& d, uint64_t op, std::optional<uint32_t> byte) {
            check(release_gil([&] { return d.arm_power_cut(op, byte); }));
          },
          py::arg("op"), py::arg("byte") = py::none())
      .def(
          "arm_random_power_cut",
          [](runtime::DeviceHandle& d, uint64_t within, std::optional<uint64_t> seed) {
            check(release_gil([&] { return d.arm_random_power_cut(within, seed); }));
          },
          py::arg("within"), py::arg("seed") = py::none())
      .def("flip_bit",
           [](runtime::DeviceHandle& d, uint32_t addr, uint8_t bit) {
             check(release_gil([&] { return d.flip_bit(addr, bit); }));
           })
      .def("flip_random_bits",
           [](runtime::DeviceHandle& d, uint32_t addr, uint32_t len, uint32_t count) {
             check(release_gil([&] { return d.flip_random_bits(addr, len, count); }));
           })
      .def("wear_out",
           [](runtime::DeviceHandle& d, uint32_t sector) {
             check(release_gil([&] { return d.wear_out(sector); }));
           })
      .def("flash_erase_counts",
           [](runtime::DeviceHandle& d) {
             return unwrap(release_gil([&] { return d.flash_erase_counts(); }));
           })
      .def("flash_counters",
           [](runtime::DeviceHandle& d) {
             auto c = unwrap(release_gil([&] { return d.flash_counters(); }));
             py::dict out;
             out["programs"] = c.programs;
             out["erases"] = c.erases;
             out["bytes_programmed"] = c.bytes_programmed;
             out["violations"] = c.violations;
             out["power_cuts"] = c.power_cuts;
             out["bit_flips"] = c.bit_flips;
             out["worn_erases"] = c.worn_erases;
             return out;
           })
      .def("deregister", &runtime::DeviceHandle::deregister,
           py::call_guard<py::gil_scoped_release>());

  py::class_<runtime::BootstrapServerHandle>(m, "BootstrapServerHandle")
      .def_property_readonly("uri", &runtime::BootstrapServerHandle::uri)
      .def_property_readonly("secure_uri", &runtime::BootstrapServerHandle::secure_uri)
      .def("results",
           [](const runtime::BootstrapServerHandle& h) {
             std::vector<server::EndpointResult> rs = release_gil([&] { return h.results(); });
             py::list out;
             for (const auto& r : rs) out.append(to_py(r));
             return out;
           })
      .def("take_log",
           [](const runtime::BootstrapServerHandle& h) {
             server::ServerLog log = release_gil([&] { return h.take_log(); });
             py::list sessions;
             for (const auto& r : log.sessions) sessions.append(to_py(r));
             return py::make_tuple(sessions, to_py(log.notices), log.dropped);
           })
      .def("events",
           [](const runtime::BootstrapServerHandle& h) {
             std::vector<Event> ev = release_gil([&] { return h.events(); });
             return to_py(ev);
           })
      .def("counters",
           [](const runtime::BootstrapServerHandle& h) {
             server::BootstrapCounters c = release_gil([&] { return h.counters(); });
             py::dict d;
             d["results_evicted"] = c.results_evicted;
             d["endpoint_events_evicted"] = c.endpoint_events_evicted;
             d["events_evicted"] = c.events_evicted;
             return d;
           })
      .def("reconfigure", [](runtime::BootstrapServerHandle& h, const std::string& config_json) {
        auto config = unwrap(server::parse_bootstrap_config(config_json));
        release_gil([&] {
          h.reconfigure(std::move(config));
          return 0;
        });
      });

  py::class_<runtime::RegistrationServerHandle>(m, "RegistrationServerHandle")
      .def_property_readonly("uri", &runtime::RegistrationServerHandle::uri)
      .def_property_readonly("secure_uri", &runtime::RegistrationServerHandle::secure_uri)
      .def(
          "request",
          [](const runtime::RegistrationServerHandle& h, const std::string& endpoint,
             const std::string& method, const std::string& path, const py::bytes& payload,
             int content_format, int accept, double timeout) {
            lwm2m::Request r = request_arg(method, path, payload, content_format);
            if (accept > 65535) throw py::value_error("accept: must be 0..65535");
            if (accept >= 0) r.accept = static_cast<uint16_t>(accept);
            if (!(timeout > 0)) throw py::value_error("timeout: must be > 0 seconds");
            lwm2m::Response resp =
                unwrap(release_gil([&] { return h.request(endpoint, r, timeout); }));
            return py::make_tuple(lwm2m::to_string(resp.code),
                                  py::bytes(std::string(resp.payload.begin(), resp.payload.end())));
          },
          py::arg("endpoint"), py::arg("method"), py::arg("path"), py::arg("payload"),
          py::arg("content_format"), py::arg("accept"), py::arg("timeout"))
      .def("registrations",
           [](const runtime::RegistrationServerHandle& h) {
             std::vector<server::Registration> rs = release_gil([&] { return h.registrations(); });
             py::list out;
             for (const auto& r : rs) {
               py::dict d;
               d["id"] = text(r.id);
               d["endpoint"] = text(r.endpoint);
               d["lwm2m_version"] = text(r.lwm2m_version);
               d["binding"] = text(r.binding);
               d["lifetime"] = r.lifetime_s;
               d["object_links"] = text(r.object_links);
               d["registered_ms"] = r.registered_ms;
               d["updated_ms"] = r.updated_ms;
               d["updates"] = r.updates;
               out.append(d);
             }
             return out;
           })
      .def("events",
           [](const runtime::RegistrationServerHandle& h) {
             std::vector<Event> ev = release_gil([&] { return h.events(); });
             return to_py(ev);
           })
      .def("events_since",
           [](const runtime::RegistrationServerHandle& h, uint64_t first) {
             auto [next, ev] = release_gil([&] { return h.events_since(first); });
             return py::make_tuple(next, to_py(ev));
           })
      .def("counters", [](const runtime::RegistrationServerHandle& h) {
        server::RegistrationCounters c = release_gil([&] { return h.counters(); });
        py::dict d;
        d["events_evicted"] = c.events_evicted;
        d["lifetimes_capped"] = c.lifetimes_capped;
        d["refused_full"] = c.refused_full;
        d["refused_principal"] = c.refused_principal;
        return d;
      });

  py::class_<runtime::Runtime>(m, "Runtime")
      .def(py::init([](uint64_t seed, int threads, size_t per_shard, bool radio, bool virtual_time,
                       size_t device_handshakes, unsigned server_handshakes) {
             if (threads < 1 || threads > 64) throw py::value_error("threads: must be 1..64");
             if (per_shard < 1) throw py::value_error("devices_per_shard: must be >= 1");
             if (device_handshakes < 1 || server_handshakes < 1)
               throw py::value_error("device_handshakes, server_handshakes: must be >= 1");
             runtime::RuntimeOptions o{seed, threads, per_shard};
             o.radio = radio;
             o.virtual_time = virtual_time;
             o.device_handshakes = device_handshakes;
             o.server_handshakes = server_handshakes;
             return std::make_unique<runtime::Runtime>(o);
           }),
           py::arg("seed") = 0, py::arg("threads") = 2, py::arg("devices_per_shard") = 100,
           py::arg("radio") = true, py::arg("virtual_time") = false,
           py::arg("device_handshakes") = 64, py::arg("server_handshakes") = 256)
      .def_property_readonly("seed", &runtime::Runtime::seed)
      .def_property_readonly("is_virtual", &runtime::Runtime::is_virtual)
      .def("now_ms", [](const runtime::Runtime& r) { return r.clock().now_ms(); })
      .def(
          "run_until",
          [](runtime::Runtime& r, py::object condition, int64_t until_ms) {
            SignalPoll signals;
            const bool has_condition = !condition.is_none();
            std::function<bool()> stop = [&] {
              if (signals.raised()) return true;
              if (!has_condition) return false;
              py::gil_scoped_acquire gil;
              return static_cast<bool>(py::bool_(condition()));
            };
            const bool held = release_gil([&] { return r.run_until(stop, until_ms); });
            signals.rethrow();
            return held;
          },
          py::arg("condition"), py::arg("until_ms"))
      .def(
          "run_until_devices",
          [](runtime::Runtime& r, std::vector<runtime::DeviceHandle> devices,
             std::vector<std::string> states, std::vector<std::string> exits, int64_t until_ms) {
            SignalPoll signals;
            const bool held = release_gil([&] {
              return r.run_until(
                  [&] { return signals.raised() || all_devices(devices, states, exits); },
                  until_ms);
            });
            signals.rethrow();
            return held;
          },
          py::arg("devices"), py::arg("states"), py::arg("exits"), py::arg("until_ms"))
      .def(
          "add_bootstrap_server",
          [](runtime::Runtime& r, const std::string& config_json, const std::string& profile,
             const std::string& listen, const std::string& secure_listen, double ack_timeout,
             double random_factor, int max_retransmit, int64_t max_results,
             int64_t max_endpoint_events, int64_t max_events) {
            auto config = unwrap(server::parse_bootstrap_config(config_json));
            // "auto": no default; each entry's profile, else the request's dialect.
            std::optional<lwm2m::Profile> p;
            if (profile != "auto") p = profile_arg(profile);
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            server::BootstrapLimits limits{cap_arg("max_results", max_results),
                                           cap_arg("max_endpoint_events", max_endpoint_events),
                                           cap_arg("max_events", max_events)};
            auto made = [&] {
              py::gil_scoped_release release;
              return r.add_bootstrap_server(std::move(config), p, t, listen, secure_listen, limits);
            }();
            return unwrap(std::move(made));
          },
          py::arg("config_json"), py::arg("profile"), py::arg("listen"), py::arg("secure_listen"),
          py::arg("ack_timeout"), py::arg("ack_random_factor"), py::arg("max_retransmit"),
          py::arg("max_results") = 100000, py::arg("max_endpoint_events") = 256,
          py::arg("max_events") = 10000)
      .def(
          "add_registration_server",
          [](runtime::Runtime& r, const std::string& listen, const std::string& secure_listen,
             double ack_timeout, double random_factor, int max_retransmit,
             const std::vector<std::tuple<std::string, std::string, py::bytes>>& psk,
             int64_t max_lifetime, int64_t max_registrations, int64_t max_events) {
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            if (max_lifetime < 1 || max_lifetime > 4294967295)
              throw py::value_error("max_lifetime: must be 1..4294967295 seconds, got " +
                                    std::to_string(max_lifetime));
            server::RegistrationLimits limits{static_cast<uint32_t>(max_lifetime),
                                              cap_arg("max_registrations", max_registrations),
                                              cap_arg("max_events", max_events)};
            server::PskTable table;
            for (const auto& [match, identity, key] : psk) {
              std::string k = key;
              if (match.empty() || identity.empty() || k.empty())
                throw py::value_error("psk: each entry needs a match glob, an identity and a key");
              table.add({match, identity, std::vector<uint8_t>(k.begin(), k.end())});
            }
            auto made = [&] {
              py::gil_scoped_release release;
              return r.add_registration_server(t, std::move(table), listen, secure_listen, limits);
            }();
            return unwrap(std::move(made));
          },
          py::arg("listen"), py::arg("secure_listen"), py::arg("ack_timeout"),
          py::arg("ack_random_factor"), py::arg("max_retransmit"), py::arg("psk"),
          py::arg("max_lifetime") = 86400, py::arg("max_registrations") = 100000,
          py::arg("max_events") = 10000)
      .def(
          "add_devices",
          [](runtime::Runtime& r, const DeviceSpec& spec, size_t count, const std::string& prefix,
             bool start) {
            auto config = spec.build();
            return unwrap(release_gil([&] { return r.add_devices(config, count, prefix, start); }));
          },
          py::arg("spec"), py::arg("count"), py::arg("prefix"), py::arg("start"))
      .def("start_devices",
           [](runtime::Runtime& r, const std::vector<runtime::DeviceHandle>& devices) {
             check(release_gil([&] { return r.start_devices(devices); }));
           })
      .def(
          "wait_devices",
          [](runtime::Runtime& r, std::vector<runtime::DeviceHandle> devices,
             std::vector<std::string> states, std::vector<std::string> exits, double timeout) {
            py::gil_scoped_release release;
            return r.wait([&] { return all_devices(devices, states, exits); }, timeout);
          },
          py::arg("devices"), py::arg("states"), py::arg("exits"), py::arg("timeout"))
      .def(
          "capture",
          [](runtime::Runtime& r, const std::string& path, const std::string& comment) {
            check(release_gil([&] { return r.capture(path, comment); }));
          },
          py::arg("path"), py::arg("comment") = "")
      .def("summary", [](runtime::Runtime& r) {
        runtime::FleetSummary s = release_gil([&] { return r.summary(); });
        py::dict d;
        d["devices"] = s.devices;
        d["states"] = s.states;
        d["exits"] = s.exits;
        d["bootstrap_ms"] = s.bootstrap_ms;
        d["power_cuts"] = s.power_cuts;
        d["torn_configs"] = s.torn_configs;
        py::dict radio = to_py(s.radio);
        radio["send_failed"] = s.send_failed;
        d["radio"] = radio;
        return d;
      });

  bind_qemu(m);
}
