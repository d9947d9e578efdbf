// The pybind11 module lwm2m_hil._core. It only binds: the logic lives in
// emulator/ (C++) and in the lwm2m_hil package (Python). Every call that
// waits on an event loop releases the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "emulator/runtime/runtime.h"
#include "emulator/server/bootstrap_config.h"

namespace py = pybind11;
using namespace hil;

namespace {

template <typename T>
T unwrap(Result<T> r) {
  if (!r) throw py::value_error(r.error().message);
  return std::move(r.value());
}

lwm2m::Profile profile_arg(const std::string& name) {
  auto p = lwm2m::parse_profile(name);
  if (!p) throw py::value_error("profile: '" + name + "' is not one of 'cr', '1.0', '1.1'");
  return *p;
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

py::object to_py(const lwm2m::Value& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          return py::bytes(reinterpret_cast<const char*>(x.data()), x.size());
        } else if constexpr (std::is_same_v<T, lwm2m::ObjLink>) {
          return py::make_tuple(x.obj, x.inst);
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

py::list to_py(const std::vector<Event>& events) {
  py::list out;
  for (const auto& e : events) out.append(py::make_tuple(e.time_ms, e.kind, e.detail));
  return out;
}

// The device parameters Python may set; defaults are the C++ defaults.
struct DeviceSpec {
  std::string endpoint = "dev";
  std::string bootstrap_uri;
  std::string profile = "cr";
  bool request_finish = true;
  double finish_timeout = 247.0;
  double idle_timeout = 5.0;
  int64_t hold_off = 0;
  std::string server_uri;
  int64_t server_ssid = 1;
  int64_t server_lifetime = 300;
  double retry_initial = 2.0, retry_factor = 2.0, retry_max = 120.0, retry_jitter = 0.5;
  int max_bootstrap_attempts = 0;
  int register_attempts = 3;
  double ack_timeout = 2.0, ack_random_factor = 1.5;
  int max_retransmit = 4;
  double bootstrap_linger = -1;
  bool record_messages = true;

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
    c.client.finish_timeout_ms = seconds("finish_timeout", finish_timeout);
    c.client.idle_timeout_ms = seconds("idle_timeout", idle_timeout);
    c.client.bootstrap_retry = {seconds("retry_initial", retry_initial), retry_factor,
                                seconds("retry_max", retry_max), retry_jitter};
    c.client.register_retry = c.client.bootstrap_retry;
    c.client.max_bootstrap_attempts = max_bootstrap_attempts;
    c.client.register_attempts = register_attempts;
    c.timing = timing_arg(ack_timeout, ack_random_factor, max_retransmit);
    c.bootstrap_uri = bootstrap_uri;
    c.hold_off_s = hold_off;
    if (server_ssid < 1 || server_ssid > 65534)
      throw py::value_error("server_ssid: must be 1..65534");
    if (server_lifetime < 1) throw py::value_error("server_lifetime: must be >= 1 second");
    c.server_uri = server_uri;
    c.server_ssid = server_ssid;
    c.server_lifetime_s = server_lifetime;
    c.bootstrap_linger_ms =
        bootstrap_linger < 0 ? -1 : seconds("bootstrap_linger", bootstrap_linger);
    c.record_messages = record_messages;
    return c;
  }
};

bool all_devices(const std::vector<runtime::DeviceHandle>& devices,
                 const std::vector<std::string>& states, const std::vector<std::string>& exits) {
  auto in = [](const std::vector<std::string>& set, const char* v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  for (const auto& d : devices)
    if (!in(states, lwm2m::to_string(d.state())) || !in(exits, lwm2m::to_string(d.last_exit())))
      return false;
  return true;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lwm2m-hil emulator core (use the lwm2m_hil package, not this module)";

  py::class_<DeviceSpec>(m, "DeviceSpec")
      .def(py::init<>())
#define FIELD(name) .def_readwrite(#name, &DeviceSpec::name)
          FIELD(endpoint) FIELD(bootstrap_uri) FIELD(profile) FIELD(request_finish)
              FIELD(finish_timeout) FIELD(idle_timeout) FIELD(hold_off) FIELD(retry_initial)
                  FIELD(retry_factor) FIELD(retry_max) FIELD(retry_jitter)
                      FIELD(max_bootstrap_attempts) FIELD(register_attempts) FIELD(ack_timeout)
                          FIELD(ack_random_factor) FIELD(max_retransmit) FIELD(bootstrap_linger)
                              FIELD(record_messages) FIELD(server_uri) FIELD(server_ssid)
                                  FIELD(server_lifetime)
#undef FIELD
      .def("validate", [](const DeviceSpec& s) { s.build(); });

  py::class_<runtime::DeviceHandle>(m, "DeviceHandle")
      .def_property_readonly("endpoint", &runtime::DeviceHandle::endpoint)
      .def_property_readonly(
          "state", [](const runtime::DeviceHandle& d) { return lwm2m::to_string(d.state()); })
      .def_property_readonly(
          "last_exit",
          [](const runtime::DeviceHandle& d) { return lwm2m::to_string(d.last_exit()); })
      .def_property_readonly("address", &runtime::DeviceHandle::address,
                             py::call_guard<py::gil_scoped_release>())
      .def("timeline",
           [](const runtime::DeviceHandle& d) {
             std::vector<Event> ev;
             {
               py::gil_scoped_release release;
               ev = d.timeline();
             }
             return to_py(ev);
           })
      .def("exit_counts", &runtime::DeviceHandle::exit_counts,
           py::call_guard<py::gil_scoped_release>())
      .def("bootstrap_duration_ms", &runtime::DeviceHandle::bootstrap_duration_ms,
           py::call_guard<py::gil_scoped_release>())
      .def(
          "objects",
          [](const runtime::DeviceHandle& d, bool staged) {
            lwm2m::ObjectTree t;
            {
              py::gil_scoped_release release;
              t = d.objects(staged);
            }
            return to_py(t);
          },
          py::arg("staged") = false)
      .def("start", &runtime::DeviceHandle::start, py::call_guard<py::gil_scoped_release>())
      .def("deregister", &runtime::DeviceHandle::deregister,
           py::call_guard<py::gil_scoped_release>());

  py::class_<runtime::BootstrapServerHandle>(m, "BootstrapServerHandle")
      .def_property_readonly("uri", &runtime::BootstrapServerHandle::uri)
      .def("results",
           [](const runtime::BootstrapServerHandle& h) {
             std::vector<server::EndpointResult> rs;
             {
               py::gil_scoped_release release;
               rs = h.results();
             }
             py::list out;
             for (const auto& r : rs) {
               py::dict d;
               d["endpoint"] = r.endpoint;
               d["outcome"] = r.outcome ? py::cast(server::to_string(*r.outcome)) : py::none();
               d["reason"] = r.reason;
               d["profile"] = lwm2m::to_string(r.profile);
               d["sessions"] = r.sessions;
               d["requests_sent"] = r.requests_sent;
               d["error_responses"] = r.error_responses;
               d["finish_sent"] = r.finish_sent;
               d["started_ms"] = r.started_ms;
               d["ended_ms"] = r.ended_ms;
               d["events"] = to_py(r.events);
               out.append(d);
             }
             return out;
           })
      .def("events", [](const runtime::BootstrapServerHandle& h) {
        std::vector<Event> ev;
        {
          py::gil_scoped_release release;
          ev = h.events();
        }
        return to_py(ev);
      });

  py::class_<runtime::RegistrationServerHandle>(m, "RegistrationServerHandle")
      .def_property_readonly("uri", &runtime::RegistrationServerHandle::uri)
      .def("registrations",
           [](const runtime::RegistrationServerHandle& h) {
             std::vector<server::Registration> rs;
             {
               py::gil_scoped_release release;
               rs = h.registrations();
             }
             py::list out;
             for (const auto& r : rs) {
               py::dict d;
               d["id"] = r.id;
               d["endpoint"] = r.endpoint;
               d["lwm2m_version"] = r.lwm2m_version;
               d["binding"] = r.binding;
               d["lifetime"] = r.lifetime_s;
               d["object_links"] = r.object_links;
               d["registered_ms"] = r.registered_ms;
               d["updated_ms"] = r.updated_ms;
               d["updates"] = r.updates;
               out.append(d);
             }
             return out;
           })
      .def("events", [](const runtime::RegistrationServerHandle& h) {
        std::vector<Event> ev;
        {
          py::gil_scoped_release release;
          ev = h.events();
        }
        return to_py(ev);
      });

  py::class_<runtime::Runtime>(m, "Runtime")
      .def(py::init([](uint64_t seed, int threads, size_t per_shard) {
             if (threads < 1 || threads > 64) throw py::value_error("threads: must be 1..64");
             if (per_shard < 1) throw py::value_error("devices_per_shard: must be >= 1");
             return std::make_unique<runtime::Runtime>(
                 runtime::RuntimeOptions{seed, threads, per_shard});
           }),
           py::arg("seed") = 0, py::arg("threads") = 2, py::arg("devices_per_shard") = 100)
      .def_property_readonly("seed", &runtime::Runtime::seed)
      .def("now_ms", [](const runtime::Runtime& r) { return r.clock().now_ms(); })
      .def(
          "add_bootstrap_server",
          [](runtime::Runtime& r, const std::string& config_json, const std::string& profile,
             const std::string& listen, double ack_timeout, double random_factor,
             int max_retransmit) {
            auto config = unwrap(server::parse_bootstrap_config(config_json));
            auto p = profile_arg(profile);
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            auto made = [&] {
              py::gil_scoped_release release;
              return r.add_bootstrap_server(std::move(config), p, t, listen);
            }();
            return unwrap(std::move(made));
          },
          py::arg("config_json"), py::arg("profile"), py::arg("listen"), py::arg("ack_timeout"),
          py::arg("ack_random_factor"), py::arg("max_retransmit"))
      .def(
          "add_registration_server",
          [](runtime::Runtime& r, const std::string& listen, double ack_timeout,
             double random_factor, int max_retransmit) {
            auto t = timing_arg(ack_timeout, random_factor, max_retransmit);
            auto made = [&] {
              py::gil_scoped_release release;
              return r.add_registration_server(t, listen);
            }();
            return unwrap(std::move(made));
          },
          py::arg("listen"), py::arg("ack_timeout"), py::arg("ack_random_factor"),
          py::arg("max_retransmit"))
      .def(
          "add_devices",
          [](runtime::Runtime& r, const DeviceSpec& spec, size_t count, const std::string& prefix,
             bool start) {
            auto config = spec.build();
            py::gil_scoped_release release;
            return r.add_devices(config, count, prefix, start);
          },
          py::arg("spec"), py::arg("count"), py::arg("prefix"), py::arg("start"))
      .def(
          "wait_devices",
          [](runtime::Runtime& r, std::vector<runtime::DeviceHandle> devices,
             std::vector<std::string> states, std::vector<std::string> exits, double timeout) {
            py::gil_scoped_release release;
            return r.wait([&] { return all_devices(devices, states, exits); }, timeout);
          },
          py::arg("devices"), py::arg("states"), py::arg("exits"), py::arg("timeout"))
      .def("summary", [](runtime::Runtime& r) {
        runtime::FleetSummary s;
        {
          py::gil_scoped_release release;
          s = r.summary();
        }
        py::dict d;
        d["devices"] = s.devices;
        d["states"] = s.states;
        d["exits"] = s.exits;
        d["bootstrap_ms"] = s.bootstrap_ms;
        return d;
      });
}
