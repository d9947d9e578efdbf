// The pybind11 module lwm2m_hil._core. It only binds: the logic lives in
// emulator/ (C++) and in the lwm2m_hil package (Python). Every call that
// waits on an event loop releases the GIL.
#include <arpa/inet.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <sstream>

#include "bindings/errors.h"
#include "emulator/coap/address.h"
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
  // "/3/0/13?pmin=1&pmax=5": a query (Write-Attributes) after the path.
  const size_t q = path.find('?');
  std::stringstream in(path.substr(1, q == std::string::npos ? std::string::npos : q - 1));
  for (std::string seg; std::getline(in, seg, '/');)
    if (!seg.empty()) r.path.push_back(seg);
  std::stringstream query(q == std::string::npos ? "" : path.substr(q + 1));
  for (std::string item; std::getline(query, item, '&');)
    if (!item.empty()) r.query.push_back(item);
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
  py::list reads;
  for (const server::ReadAnswer& a : r.reads) {
    py::dict e;
    e["op"] = a.op;
    e["path"] = a.path;
    e["code"] = lwm2m::to_string(a.code);
    e["content_format"] = a.content_format ? py::cast(*a.content_format) : py::none();
    e["payload"] = py::bytes(reinterpret_cast<const char*>(a.payload.data()), a.payload.size());
    reads.append(e);
  }
  d["reads"] = reads;
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
  // Certificate mode (DER bytes): the device's own certificate and key, or
  // a CA that mints one per device (x509_cn, validity); x509_server_cert
  // is what the bootstrap server's must chain to (/0/0/4).
  std::string x509_cert, x509_key, x509_server_cert, x509_ca_cert, x509_ca_key;
  std::string x509_cn = "{endpoint}";
  std::string x509_not_before = "20190101000000", x509_not_after = "20491231235959";
  std::string profile = "cr";
  bool request_finish = true;
  bool finish_fallback = false;
  double finish_timeout = lwm2m::ClientConfig{}.finish_timeout_ms / 1000.0;
  double idle_timeout = lwm2m::ClientConfig{}.idle_timeout_ms / 1000.0;
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
  int max_bootstrap_attempts = lwm2m::ClientConfig{}.max_bootstrap_attempts;
  int register_attempts = lwm2m::ClientConfig{}.register_attempts;
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
    if (!request_finish && c.client.profile != lwm2m::Profile::Cr)
      throw py::value_error(
          "request_finish=False: only profile 'cr' lets a device skip the Finish "
          "indication; with profile='" +
          profile +
          "' the server always sends Finish (drop request_finish=False, or use "
          "profile='cr')");
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
    if (!x509_cert.empty() || !x509_ca_cert.empty()) {
      certificate_mode(c, coaps);
    } else if (coaps && (psk_key.empty() || psk_identity.empty()))
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
    if (flash_size == 0 && !flash_image.empty())
      throw py::value_error("flash_image: given, but the device has no flash (flash=None)");
    if (flash_size > 0) {
      storage::FlashConfig f;
      f.geometry = {flash_size, flash_sector_size, flash_page_size};
      check(storage::validate(f));
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

  // The factory bootstrap account in certificate mode (x509_* fields).
  void certificate_mode(device::DeviceConfig& c, bool coaps) const {
    if (!coaps)
      throw py::value_error("x509: needs a coaps:// bootstrap_uri (the server's secure_uri)");
    if (!psk_key.empty()) throw py::value_error("x509, psk: give one of them, not both");
    auto der = [](const std::string& b) { return coap::Der(b.begin(), b.end()); };
    if (!x509_cert.empty()) {
      coap::Certificate own{der(x509_cert), der(x509_key), der(x509_server_cert)};
      check(coap::check(own, "x509"));
      c.factory.bootstrap_cert = own.cert;
      c.factory.bootstrap_cert_key = own.key;
      c.factory.bootstrap_server_cert = own.trust;
      return;
    }
    coap::Issuer issuer{der(x509_ca_cert), der(x509_ca_key), x509_not_before, x509_not_after};
    // One certificate now, so that a bad CA or validity fails here, not in every device.
    (void)unwrap(coap::issue(issuer, lwm2m::with_endpoint(x509_cn, endpoint), 1));
    if (x509_server_cert.empty())
      throw py::value_error("x509: the server's CA certificate is missing");
    c.certificate_issuer = std::move(issuer);
    c.certificate_cn = x509_cn;
    c.factory.bootstrap_server_cert = der(x509_server_cert);
  }
};

// A server's own certificate for certificate mode, from Python's (cert,
// key, trust) DER bytes or None.
std::optional<coap::Certificate> certificate_arg(const py::object& x509) {
  if (x509.is_none()) return std::nullopt;
  auto [cert, key, trust] = x509.cast<std::tuple<py::bytes, py::bytes, py::bytes>>();
  auto der = [](const py::bytes& b) {
    std::string s = b;
    return coap::Der(s.begin(), s.end());
  };
  coap::Certificate c{der(cert), der(key), der(trust)};
  check(coap::check(c, "x509"));
  return c;
}

// Each call starts at the device the last one stopped at (`cursor`) and
// goes round once: while a fleet is on its way, a check costs a device or
// two instead of a walk over all of them (run_until_devices checks after
// every instant of the virtual clock).
bool all_devices(const std::vector<runtime::DeviceHandle>& devices,
                 const std::vector<std::string>& states, const std::vector<std::string>& exits,
                 size_t& cursor) {
  auto in = [](const std::vector<std::string>& set, const char* v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  for (size_t seen = 0; seen < devices.size(); ++seen, cursor = (cursor + 1) % devices.size()) {
    const auto& d = devices[cursor % devices.size()];
    if (!in(states, lwm2m::to_string(d.state())) || !in(exits, lwm2m::to_string(d.last_exit())))
      return false;
  }
  return true;
}

// --- QEMU devices (emulator/qemu/qemu_device.h) -------------------------------

// What Python sets for a device that runs a firmware image. The device's
// own settings are a native device's (`client`, validated the same way);
// they reach the image as its -append words (lwm2m/client/boot_words.h).
struct QemuSpec {
  DeviceSpec client;
  std::string image;
  std::string qemu = "qemu-system-arm";
  std::string machine = "mps2-an385";
  std::string work_dir;
  std::vector<std::string> args;  // more words, after the client's
  bool append = true;
  std::string state_source = "both";
  std::map<std::string, std::string> server_map;  // "a.b.c.d:port" -> coap://a.b.c.d:port

  qemu::QemuDeviceConfig build() const {
    if (image.empty()) throw py::value_error("firmware: the path of a firmware image is required");
    if (client.bootstrap_uri.rfind("coap://", 0) != 0)
      throw py::value_error("bootstrap_uri: a firmware image speaks NoSec only (coap://), got '" +
                            client.bootstrap_uri + "'");
    if (work_dir.empty()) throw py::value_error("work_dir: required");
    for (const auto& a : args)
      if (a.find('=') == std::string::npos || a.find(' ') != std::string::npos)
        throw py::value_error("firmware_args: '" + a + "' is not key=value without spaces");
    device::DeviceConfig d = client.build();
    qemu::QemuDeviceConfig c;
    c.boot = {d.client, d.factory, d.timing.ack_timeout_ms, d.timing.ack_random_factor,
              d.timing.max_retransmit};
    c.image = image;
    c.qemu = qemu;
    c.machine = machine;
    c.work_dir = work_dir;
    c.flash_file.clear();
    if (d.flash) {
      c.flash_file = d.flash->image_path.empty() ? "flash.bin" : d.flash->image_path;
      c.flash_geometry = d.flash->geometry;
      c.on_violation = d.flash->on_violation;
      c.endurance = d.flash->endurance;
    }
    c.args = args;
    c.reboot_after_power_cut_ms = d.reboot_after_power_cut_ms;
    c.record_messages = d.record_messages;
    c.append = append;
    if (!append) c.flash_file.clear();
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
  static Ipv4SocketAddress parse_ipv4(const std::string& what, const std::string& text) {
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
    return Ipv4SocketAddress{ntohl(a.s_addr), static_cast<uint16_t>(port)};
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

// The calls of a native device (a QEMU device's handle refuses them).
void bind_native_device(py::class_<runtime::DeviceHandle>& device) {
  device
      .def(
          "objects",
          [](const runtime::DeviceHandle& d, bool staged) {
            lwm2m::ObjectTree t = unwrap(release_gil([&] { return d.objects(staged); }));
            return to_py(t);
          },
          py::arg("staged") = false)
      .def("factory_reset",
           [](runtime::DeviceHandle& d) { check(release_gil([&] { return d.factory_reset(); })); })
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
      .def("deregister",
           [](runtime::DeviceHandle& d) { check(release_gil([&] { return d.deregister(); })); })
      .def(
          "set_resource",
          [](runtime::DeviceHandle& h, const std::string& path, const std::string& value) {
            check(release_gil([&] { return h.set_resource(path, value); }));
          },
          py::arg("path"), py::arg("value"));
}

// One handle for native and QEMU devices (runtime/device_handle.h).
void bind_device_handle(py::module_& m) {
  using H = runtime::DeviceHandle;
  py::class_<H> c(m, "DeviceHandle");
  c.def_property_readonly("endpoint", &H::endpoint)
      .def_property_readonly("is_qemu", &H::is_qemu)
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
      .def("capture",
           [](H& d, const std::string& path) {
             check(release_gil([&] { return d.capture(path); }));
           })
      .def(
          "arm_power_cut",
          [](H& d, uint64_t op, std::optional<uint32_t> byte) {
            check(release_gil([&] { return d.arm_power_cut(op, byte); }));
          },
          py::arg("op"), py::arg("byte") = py::none())
      .def_property_readonly("work_dir", &H::work_dir)
      .def_property_readonly("flash_path", &H::flash_path)
      .def_property_readonly("pid", &H::pid, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("source_disagreements", &H::source_disagreements,
                             py::call_guard<py::gil_scoped_release>());
  bind_native_device(c);
}

// An answer on its way from a device. Python polls ready() while it runs
// the virtual clock (nothing moves while it blocks), or blocks in wait() on
// the real one.
struct PendingAnswer {
  std::shared_future<Result<lwm2m::Response>> future;

  bool ready() const {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
};

void bind_pending_answer(py::module_& m) {
  py::class_<PendingAnswer>(m, "PendingAnswer")
      .def("ready", &PendingAnswer::ready)
      .def("wait",
           [](const PendingAnswer& p, double timeout_s) {
             if (!(timeout_s >= 0)) throw py::value_error("timeout: must be >= 0 seconds");
             return release_gil([&] {
               return p.future.wait_for(std::chrono::duration<double>(timeout_s)) ==
                      std::future_status::ready;
             });
           })
      .def("result", [](const PendingAnswer& p) {
        if (!p.ready()) throw py::value_error("result(): the answer has not arrived; wait() first");
        lwm2m::Response resp = unwrap(p.future.get());
        return py::make_tuple(lwm2m::to_string(resp.code),
                              py::bytes(std::string(resp.payload.begin(), resp.payload.end())));
      });
}

void bind_qemu(py::module_& m) {
  py::class_<QemuSpec> spec(m, "QemuSpec");
  spec.def(py::init<>());
  spec.def("validate", [](const QemuSpec& s) { s.build(); });
#define FIELD(name) spec.def_readwrite(#name, &QemuSpec::name)
  FIELD(client);
  FIELD(image);
  FIELD(qemu);
  FIELD(machine);
  FIELD(work_dir);
  FIELD(args);
  FIELD(append);
  FIELD(state_source);
  FIELD(server_map);
#undef FIELD

  auto rt = py::reinterpret_borrow<py::class_<runtime::Runtime>>(m.attr("Runtime"));
  rt.def(
      "add_devices",
      [](runtime::Runtime& r, const QemuSpec& spec, size_t count, const std::string& prefix,
         bool start) {
        runtime::DeviceTemplate config = spec.build();
        return unwrap(release_gil([&] { return r.add_devices(config, count, prefix, start); }));
      },
      py::arg("spec"), py::arg("count"), py::arg("prefix"), py::arg("start"));
  rt.def(
      "warm_qemu",
      [](runtime::Runtime& r, const std::string& image, const std::string& qemu_program,
         const std::string& machine, const std::string& work_dir, size_t count, double timeout) {
        qemu::QemuConfig base;
        base.image = image;
        base.qemu = qemu_program;
        base.machine = machine;
        base.work_dir = work_dir;
        return unwrap(release_gil([&]() -> Result<size_t> {
          HIL_TRY(r.warm_qemu(base, count));
          return r.wait_qemu_ready(static_cast<int>(timeout * 1000));
        }));
      },
      py::arg("image"), py::arg("qemu"), py::arg("machine"), py::arg("work_dir"), py::arg("count"),
      py::arg("timeout"));
  rt.def_property_readonly("qemu_pool_idle", &runtime::Runtime::qemu_pool_idle);
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
#define BYTES_FIELD(name)                                           \
  spec.def_property(                                                \
      #name, [](const DeviceSpec& s) { return py::bytes(s.name); }, \
      [](DeviceSpec& s, const py::bytes& b) { s.name = b; })
  BYTES_FIELD(x509_cert);
  BYTES_FIELD(x509_key);
  BYTES_FIELD(x509_server_cert);
  BYTES_FIELD(x509_ca_cert);
  BYTES_FIELD(x509_ca_key);
#undef BYTES_FIELD
  FIELD(x509_cn);
  FIELD(x509_not_before);
  FIELD(x509_not_after);
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

  bind_device_handle(m);

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
             d["results_expired"] = c.results_expired;
             d["endpoint_events_evicted"] = c.endpoint_events_evicted;
             d["events_evicted"] = c.events_evicted;
             return d;
           })
      .def("start_session",
           [](runtime::BootstrapServerHandle& h, const std::string& endpoint) {
             check(release_gil([&] { return h.start_session(endpoint); }));
           })
      .def("reconfigure", [](runtime::BootstrapServerHandle& h, const std::string& config_json) {
        auto config = unwrap(server::parse_bootstrap_config(config_json));
        release_gil([&] {
          h.reconfigure(std::move(config));
          return 0;
        });
      });

  bind_pending_answer(m);
  py::class_<runtime::RegistrationServerHandle>(m, "RegistrationServerHandle")
      .def_property_readonly("uri", &runtime::RegistrationServerHandle::uri)
      .def_property_readonly("secure_uri", &runtime::RegistrationServerHandle::secure_uri)
      .def(
          "send_request",
          [](const runtime::RegistrationServerHandle& h, const std::string& endpoint,
             const std::string& method, const std::string& path, const py::bytes& payload,
             int content_format, int accept) {
            lwm2m::Request r = request_arg(method, path, payload, content_format);
            if (accept > 65535) throw py::value_error("accept: must be 0..65535");
            if (accept >= 0) r.accept = static_cast<uint16_t>(accept);
            return PendingAnswer{release_gil([&] { return h.send_request(endpoint, r); })};
          },
          py::arg("endpoint"), py::arg("method"), py::arg("path"), py::arg("payload"),
          py::arg("content_format"), py::arg("accept"))
      .def(
          "observe",
          [](const runtime::RegistrationServerHandle& h, const std::string& endpoint,
             const std::string& path, int accept) {
            lwm2m::Request r = request_arg("GET", path, "", -1);
            if (accept > 65535) throw py::value_error("accept: must be 0..65535");
            if (accept >= 0) r.accept = static_cast<uint16_t>(accept);
            return unwrap(release_gil([&] { return h.observe(endpoint, r); }));
          },
          py::arg("endpoint"), py::arg("path"), py::arg("accept"))
      .def(
          "cancel_observe",
          [](const runtime::RegistrationServerHandle& h, const std::string& endpoint,
             const std::string& path) {
            const std::string p = request_arg("GET", path, "", -1).uri_path();
            return unwrap(release_gil([&] { return h.cancel_observe(endpoint, p); }));
          },
          py::arg("endpoint"), py::arg("path"))
      .def("observations",
           [](const runtime::RegistrationServerHandle& h) {
             std::vector<server::Observation> os = release_gil([&] { return h.observations(); });
             py::list out;
             for (const auto& o : os) {
               py::dict d;
               d["tag"] = o.tag;
               d["endpoint"] = text(o.endpoint);
               d["path"] = o.path;
               d["state"] = o.state;
               d["reason"] = text(o.reason);
               d["code"] = lwm2m::to_string(o.code);
               d["observe"] = o.observe ? py::object(py::int_(*o.observe)) : py::none();
               d["notifications"] = o.notifications;
               d["stale"] = o.stale;
               d["content_format"] =
                   o.content_format ? py::object(py::int_(*o.content_format)) : py::none();
               d["payload"] = py::bytes(std::string(o.payload.begin(), o.payload.end()));
               d["updated_ms"] = o.updated_ms;
               out.append(d);
             }
             return out;
           })
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
      .def(py::init([](uint64_t seed, int threads, size_t per_context, bool radio,
                       bool virtual_time, size_t device_handshakes, unsigned server_handshakes,
                       int server_contexts, bool in_process) {
             if (threads < 1 || threads > 64) throw py::value_error("threads: must be 1..64");
             if (per_context < 1) throw py::value_error("devices_per_context: must be >= 1");
             if (device_handshakes < 1 || server_handshakes < 1)
               throw py::value_error("device_handshakes, server_handshakes: must be >= 1");
             if (server_contexts < 0 || server_contexts > 1024)
               throw py::value_error("server_contexts: must be 1..1024 (0: the clock's default)");
             runtime::RuntimeOptions o{seed, threads, per_context};
             o.radio = radio;
             o.virtual_time = virtual_time;
             o.device_handshakes = device_handshakes;
             o.server_handshakes = server_handshakes;
             o.server_contexts = server_contexts;
             o.in_process = in_process;
             return std::make_unique<runtime::Runtime>(o);
           }),
           py::arg("seed") = 0, py::arg("threads") = 2, py::arg("devices_per_context") = 100,
           py::arg("radio") = true, py::arg("virtual_time") = false,
           py::arg("device_handshakes") = 64, py::arg("server_handshakes") = 256,
           py::arg("server_contexts") = 0, py::arg("in_process") = true)
      .def_property_readonly("seed", &runtime::Runtime::seed)
      .def_property_readonly("is_virtual", &runtime::Runtime::is_virtual)
      .def("now_ms", [](const runtime::Runtime& r) { return r.clock().now_ms(); })
      .def("close",
           [](runtime::Runtime& r) {
             release_gil([&] {
               r.close();
               return 0;
             });
           })
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
            size_t cursor = 0;
            const bool held = release_gil([&] {
              return r.run_until(
                  [&] { return signals.raised() || all_devices(devices, states, exits, cursor); },
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
             int64_t max_endpoint_events, int64_t max_events, int64_t result_ttl,
             const py::object& x509) {
            auto config = unwrap(server::parse_bootstrap_config(config_json));
            std::optional<coap::Certificate> cert = certificate_arg(x509);
            // "auto": no default; each entry's profile, else the request's dialect.
            std::optional<lwm2m::Profile> p;
            if (profile != "auto") p = profile_arg(profile);
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            server::BootstrapLimits limits{cap_arg("max_results", max_results),
                                           cap_arg("max_endpoint_events", max_endpoint_events),
                                           cap_arg("max_events", max_events)};
            if (result_ttl < 1 || result_ttl > 4294967295)
              throw py::value_error("result_ttl: must be 1..4294967295 seconds, got " +
                                    std::to_string(result_ttl));
            limits.result_ttl_ms = result_ttl * 1000;
            auto made = [&] {
              py::gil_scoped_release release;
              return r.add_bootstrap_server(std::move(config), p, t, listen, secure_listen, limits,
                                            std::move(cert));
            }();
            return unwrap(std::move(made));
          },
          py::arg("config_json"), py::arg("profile"), py::arg("listen"), py::arg("secure_listen"),
          py::arg("ack_timeout"), py::arg("ack_random_factor"), py::arg("max_retransmit"),
          py::arg("max_results") = 100000, py::arg("max_endpoint_events") = 256,
          py::arg("max_events") = 10000, py::arg("result_ttl") = 86400,
          py::arg("x509") = py::none())
      .def(
          "add_registration_server",
          [](runtime::Runtime& r, const std::string& listen, const std::string& secure_listen,
             double ack_timeout, double random_factor, int max_retransmit,
             const std::vector<std::tuple<std::string, std::string, py::bytes>>& psk,
             int64_t max_lifetime, int64_t max_registrations, int64_t max_events,
             const py::object& x509) {
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            std::optional<coap::Certificate> cert = certificate_arg(x509);
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
              return r.add_registration_server(t, std::move(table), listen, secure_listen, limits,
                                               std::move(cert));
            }();
            return unwrap(std::move(made));
          },
          py::arg("listen"), py::arg("secure_listen"), py::arg("ack_timeout"),
          py::arg("ack_random_factor"), py::arg("max_retransmit"), py::arg("psk"),
          py::arg("max_lifetime") = 86400, py::arg("max_registrations") = 100000,
          py::arg("max_events") = 10000, py::arg("x509") = py::none())
      .def(
          "add_devices",
          [](runtime::Runtime& r, const DeviceSpec& spec, size_t count, const std::string& prefix,
             bool start) {
            runtime::DeviceTemplate config = spec.build();
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
            size_t cursor = 0;
            return r.wait([&] { return all_devices(devices, states, exits, cursor); }, timeout);
          },
          py::arg("devices"), py::arg("states"), py::arg("exits"), py::arg("timeout"))
      .def(
          "capture",
          [](runtime::Runtime& r, const std::string& path, const std::string& comment) {
            check(release_gil([&] { return r.capture(path, comment); }));
          },
          py::arg("path"), py::arg("comment") = "")
      .def(
          "open_egress",
          [](runtime::Runtime& r, const std::string& prefix) {
            check(release_gil([&] { return r.open_egress(prefix); }));
          },
          py::arg("prefix"))
      .def_static(
          "check_route",
          [](const std::string& host_port) {
            coap_address_t a = unwrap(coap::parse_host_port(host_port));
            if (a.addr.sa.sa_family != AF_INET)
              throw py::value_error(host_port + ": the egress carries IPv4 only");
            check(radio::check_route(
                Ipv4SocketAddress{ntohl(a.addr.sin.sin_addr.s_addr), ntohs(a.addr.sin.sin_port)}));
          },
          py::arg("host_port"))
      .def_static(
          "check_egress_prefix",
          [](const std::string& prefix) { (void)unwrap(radio::parse_egress_prefix(prefix)); },
          py::arg("prefix"))
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
