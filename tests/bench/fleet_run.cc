#include "tests/bench/fleet_run.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "emulator/runtime/runtime.h"
#include "emulator/server/bootstrap_config.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

namespace hil::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// Reads /proc through descriptors opened before the fleet: a fleet of
// 10,000 devices can take every descriptor the process may hold, and a
// late open() would then fail and read as zero.
class ProcReader {
 public:
  ProcReader() : statm_(open("/proc/self/statm", O_RDONLY)), fd_dir_(opendir("/proc/self/fd")) {}
  ~ProcReader() {
    if (statm_ >= 0) close(statm_);
    if (fd_dir_ != nullptr) closedir(fd_dir_);
  }
  ProcReader(const ProcReader&) = delete;
  ProcReader& operator=(const ProcReader&) = delete;

  // Resident set size (the second field of statm, in pages), in KiB.
  int64_t rss_kib() const {
    char buf[128] = {0};
    if (statm_ < 0 || pread(statm_, buf, sizeof(buf) - 1, 0) <= 0) return -1;
    long long size = 0, resident = 0;
    std::sscanf(buf, "%lld %lld", &size, &resident);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
  }

  // Open descriptors, this reader's own two included.
  int open_fds() const {
    if (fd_dir_ == nullptr) return -1;
    rewinddir(fd_dir_);
    int n = 0;
    while (dirent* e = readdir(fd_dir_)) n += e->d_name[0] != '.';
    return n;
  }

  // The process's sockets, and the bytes the kernel charges to their
  // receive and send queues (SO_MEMINFO): kernel memory that RSS leaves out.
  std::pair<int, int64_t> socket_memory() const {
    std::pair<int, int64_t> out{0, 0};
    if (fd_dir_ == nullptr) return out;
    rewinddir(fd_dir_);
    while (dirent* e = readdir(fd_dir_)) {
      if (e->d_name[0] == '.') continue;
      int fd = std::atoi(e->d_name);
      struct stat st {};
      uint32_t mem[SK_MEMINFO_VARS] = {};
      socklen_t len = sizeof(mem);
      if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
          getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0)
        continue;
      ++out.first;
      out.second += int64_t{mem[SK_MEMINFO_RMEM_ALLOC]} + mem[SK_MEMINFO_WMEM_ALLOC] +
                    mem[SK_MEMINFO_FWD_ALLOC] + mem[SK_MEMINFO_WMEM_QUEUED] +
                    mem[SK_MEMINFO_OPTMEM] + mem[SK_MEMINFO_BACKLOG];
    }
    return out;
  }

 private:
  int statm_;
  DIR* fd_dir_;
};

// malloc's bytes in use over all arenas: the heap part of RSS, without
// the allocator's free lists, thread stacks and libcoap's static pools.
int64_t heap_bytes() { return static_cast<int64_t>(mallinfo2().uordblks); }

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

int64_t fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<int64_t>(rl.rlim_cur);
}

// Nearest rank: the smallest value with at least `p` of the sample at or
// below it.
int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p * static_cast<double>(v.size()) + 0.999999);
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// One entry for every endpoint: wipe the device, give it one account on
// the registration server, and let Finish end the session (profile cr,
// Finish requested by the device).
// With PSK: each device's bootstrap identity is its endpoint name, and the
// fleet shares one DM identity; the same demo key everywhere.
constexpr const char* kKeyHex = "000102030405060708090a0b0c0d0e0f";

std::string bootstrap_json(const std::string& registration_uri, bool psk) {
  std::string server = R"({"ssid": 1, "uri": ")" + registration_uri + R"(", "lifetime": 300)";
  std::string entry = R"({"match": "*", "delete": ["/"])";
  if (psk) {
    server += R"(, "security_mode": "psk", "psk_identity": "dm", "psk_key_hex": ")" +
              std::string(kKeyHex) + "\"";
    entry += R"(, "security_mode": "psk", "psk_identity": "{endpoint}", "psk_key_hex": ")" +
             std::string(kKeyHex) + "\"";
  }
  return R"({"endpoints": [)" + entry + R"(, "servers": [)" + server + "}]}]}";
}

std::vector<uint8_t> demo_key() {
  std::vector<uint8_t> key;
  for (int i = 0; i < 16; ++i) key.push_back(static_cast<uint8_t>(i));
  return key;
}

device::DeviceConfig device_template(const std::string& bootstrap_uri, const FleetParams& p) {
  device::DeviceConfig c;
  c.client.profile = lwm2m::Profile::Cr;
  c.client.request_finish = true;
  c.factory.bootstrap_uri = bootstrap_uri;
  c.record_messages = p.record_messages;
  if (p.flash) c.flash = storage::FlashConfig{};
  if (p.psk) {
    c.factory.bootstrap_psk_identity = "{endpoint}";
    c.factory.bootstrap_psk_key = demo_key();
  }
  return c;  // default coap::Timing: ACK_TIMEOUT 2 s
}

// True once every device is registered. Devices stay registered in this
// fleet (no faults), so each call resumes where the last stopped: the
// virtual clock asks after every instant, and a fleet of 100,000 would
// otherwise be walked thousands of times.
class AllRegistered {
 public:
  explicit AllRegistered(const std::vector<runtime::DeviceHandle>& d) : devices_(d) {}
  bool operator()() {
    while (next_ < devices_.size() && devices_[next_].state() == lwm2m::State::Registered) ++next_;
    return next_ == devices_.size();
  }

 private:
  const std::vector<runtime::DeviceHandle>& devices_;
  size_t next_ = 0;
};

// What the servers saw: exchanges and outcomes.
void count_server_side(const runtime::BootstrapServerHandle& bs,
                       const runtime::RegistrationServerHandle& rs, FleetResult* r) {
  for (const auto& e : bs.results()) {
    r->bootstrap_requests += static_cast<uint64_t>(e.sessions);
    r->bootstrap_commands += static_cast<uint64_t>(e.requests_sent);
    r->server_events += e.events.size();
    ++r->outcomes[e.outcome ? server::to_string(*e.outcome) : "RUNNING"];
  }
  r->registrations = rs.registrations().size();
  r->exchanges = r->bootstrap_requests + r->bootstrap_commands + r->registrations;
}

// What the devices' timelines say about descriptors and lost exchanges.
void count_device_side(const std::vector<runtime::DeviceHandle>& devices, FleetResult* r) {
  uint64_t events = 0;
  for (const auto& d : devices) {
    bool closed = false, failed = false;
    for (const auto& e : d.timeline()) {
      closed |= e.kind == "bootstrap_session_closed";
      failed |= e.kind == "tx_failed";
      ++events;
    }
    r->closed_early += closed;
    r->devices_with_failures += failed;
  }
  r->timeline_events_per_device = devices.empty() ? 0 : double(events) / devices.size();
}

void summarize(const runtime::FleetSummary& s, FleetResult* r) {
  r->states.insert(s.states.begin(), s.states.end());
  r->exits.insert(s.exits.begin(), s.exits.end());
  r->bootstrap_p50_ms = percentile(s.bootstrap_ms, 0.50);
  r->bootstrap_p99_ms = percentile(s.bootstrap_ms, 0.99);
  r->bootstrap_max_ms = percentile(s.bootstrap_ms, 1.0);
}

// Under valgrind --tool=massif, with FLEET_BENCH_MASSIF_SNAPSHOT=FILE set,
// writes a detailed heap snapshot at the moment the fleet's memory is
// measured: massif's own peak comes later, when results are copied out.
void massif_snapshot() {
#ifdef VALGRIND_MONITOR_COMMAND
  const char* path = std::getenv("FLEET_BENCH_MASSIF_SNAPSHOT");
  if (path != nullptr && RUNNING_ON_VALGRIND)
    VALGRIND_MONITOR_COMMAND(("detailed_snapshot " + std::string(path)).c_str());
#endif
}

FleetResult failed(FleetResult r, std::string why) {
  r.error = std::move(why);
  return r;
}

}  // namespace

double FleetResult::kib_per_device() const {
  return devices ? double(rss_after_kib - rss_before_kib) / devices : 0;
}

double FleetResult::heap_kib_per_device() const {
  return devices ? double(heap_after_b - heap_before_b) / 1024.0 / devices : 0;
}

double FleetResult::socket_kib_per_device() const {
  return devices ? double(socket_buffers_b) / 1024.0 / devices : 0;
}

FleetResult run_fleet(const FleetParams& p) {
  FleetResult r;
  r.devices = p.devices;
  r.record_messages = p.record_messages;
  r.flash = p.flash;
  r.radio = p.radio;
  r.psk = p.psk;
  r.virtual_clock = p.virtual_clock;
  runtime::RuntimeOptions options{/*seed=*/1, /*threads=*/2};
  options.radio = p.radio;
  options.virtual_time = p.virtual_clock;
  options.server_contexts = p.server_contexts;
  runtime::Runtime rt(options);
  server::PskTable dm;
  if (p.psk) dm.add({"*", "dm", demo_key()});
  auto rs = rt.add_registration_server(coap::Timing{}, dm, "127.0.0.1:0");
  if (!rs) return failed(r, "registration server: " + rs.error().message);
  auto config =
      server::parse_bootstrap_config(bootstrap_json(p.psk ? rs->secure_uri() : rs->uri(), p.psk));
  if (!config) return failed(r, "bootstrap config: " + config.error().message);
  auto bs = rt.add_bootstrap_server(std::move(*config), lwm2m::Profile::Cr, coap::Timing{},
                                    "127.0.0.1:0");
  if (!bs) return failed(r, "bootstrap server: " + bs.error().message);

  ProcReader proc;
  r.rss_before_kib = proc.rss_kib();
  r.heap_before_b = heap_bytes();
  std::vector<double> loop_cpu_before = rt.loop_cpu_seconds();
  double process_cpu_before = process_cpu_s();
  auto start = SteadyClock::now();
  TimeMs protocol_start = rt.clock().now_ms();
  auto added =
      rt.add_devices(device_template(p.psk ? bs->secure_uri() : bs->uri(), p), p.devices, "dev-",
                     /*start=*/true);
  if (!added) return failed(r, added.error().message);
  const std::vector<runtime::DeviceHandle>& devices = *added;
  r.create_s = seconds_since(start);
  AllRegistered all_registered(devices);
  if (p.virtual_clock) {
    TimeMs until = protocol_start + static_cast<TimeMs>(p.timeout_s * 1000);
    r.all_registered = rt.run_until(std::ref(all_registered), until);
  } else {
    r.all_registered = rt.wait(std::ref(all_registered), p.timeout_s);
  }
  r.wall_s = seconds_since(start);
  r.protocol_s = static_cast<double>(rt.clock().now_ms() - protocol_start) / 1000.0;
  r.process_cpu_s = process_cpu_s() - process_cpu_before;
  std::vector<double> loop_cpu = rt.loop_cpu_seconds();
  std::vector<size_t> loop_devices = rt.devices_per_loop();
  for (size_t i = 0; i < loop_cpu.size(); ++i) {
    r.loop_cpu_ms[std::to_string(i)] =
        static_cast<size_t>((loop_cpu[i] - loop_cpu_before[i]) * 1000.0);
    r.loop_devices[std::to_string(i)] = loop_devices[i];
  }
  // Read now: add_devices() may have raised the soft limit to fit the fleet.
  r.fd_limit = fd_limit();
  // Measured before anything below copies timelines and results around.
  r.rss_after_kib = proc.rss_kib();
  r.heap_after_b = heap_bytes();
  r.open_fds = proc.open_fds();
  std::tie(r.sockets, r.socket_buffers_b) = proc.socket_memory();
  massif_snapshot();

  summarize(rt.summary(), &r);
  count_server_side(*bs, *rs, &r);
  count_device_side(devices, &r);
  return r;
}

// --- the child's report ----------------------------------------------

namespace {

std::string join(const std::map<std::string, size_t>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ",") + k + ":" + std::to_string(v);
  return s.empty() ? "-" : s;
}

std::map<std::string, size_t> split(const std::string& s) {
  std::map<std::string, size_t> m;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto colon = item.find(':');
    if (colon != std::string::npos) m[item.substr(0, colon)] = std::stoull(item.substr(colon + 1));
  }
  return m;
}

// Every field once, by name, for both directions.
template <typename R, typename Visit>
void fields(R& r, Visit&& v) {
  v("devices", r.devices);
  v("record_messages", r.record_messages);
  v("flash", r.flash);
  v("radio", r.radio);
  v("psk", r.psk);
  v("virtual_clock", r.virtual_clock);
  v("protocol_s", r.protocol_s);
  v("all_registered", r.all_registered);
  v("create_s", r.create_s);
  v("wall_s", r.wall_s);
  v("states", r.states);
  v("exits", r.exits);
  v("bootstrap_p50_ms", r.bootstrap_p50_ms);
  v("bootstrap_p99_ms", r.bootstrap_p99_ms);
  v("bootstrap_max_ms", r.bootstrap_max_ms);
  v("rss_before_kib", r.rss_before_kib);
  v("rss_after_kib", r.rss_after_kib);
  v("heap_before_b", r.heap_before_b);
  v("heap_after_b", r.heap_after_b);
  v("exchanges", r.exchanges);
  v("bootstrap_requests", r.bootstrap_requests);
  v("bootstrap_commands", r.bootstrap_commands);
  v("registrations", r.registrations);
  v("outcomes", r.outcomes);
  v("loop_cpu_ms", r.loop_cpu_ms);
  v("loop_devices", r.loop_devices);
  v("process_cpu_s", r.process_cpu_s);
  v("open_fds", r.open_fds);
  v("sockets", r.sockets);
  v("socket_buffers_b", r.socket_buffers_b);
  v("fd_limit", r.fd_limit);
  v("closed_early", r.closed_early);
  v("devices_with_failures", r.devices_with_failures);
  v("timeline_events_per_device", r.timeline_events_per_device);
  v("server_events", r.server_events);
}

struct Writer {
  std::ostringstream& out;
  void operator()(const char* k, const std::map<std::string, size_t>& m) {
    out << k << ' ' << join(m) << '\n';
  }
  template <typename T>
  void operator()(const char* k, const T& v) {
    out << k << ' ' << v << '\n';
  }
};

struct Reader {
  const std::map<std::string, std::string>& in;
  void operator()(const char* k, std::map<std::string, size_t>& m) {
    if (auto it = in.find(k); it != in.end()) m = split(it->second);
  }
  template <typename T>
  void operator()(const char* k, T& v) {
    if (auto it = in.find(k); it != in.end()) std::istringstream(it->second) >> v;
  }
};

}  // namespace

std::string serialize(const FleetResult& r) {
  std::ostringstream out;
  out.precision(9);
  if (!r.error.empty()) out << "error " << r.error << '\n';
  fields(r, Writer{out});
  return out.str();
}

FleetResult deserialize(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space != std::string::npos) kv[line.substr(0, space)] = line.substr(space + 1);
  }
  FleetResult r;
  fields(r, Reader{kv});
  if (auto it = kv.find("error"); it != kv.end()) r.error = it->second;
  if (kv.empty()) r.error = "the child process reported nothing";
  return r;
}

}  // namespace hil::bench
