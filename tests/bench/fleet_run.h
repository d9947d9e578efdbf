// One fleet measurement: a fresh Runtime with the embedded bootstrap and
// registration servers, N devices bootstrapping (NoSec, profile cr, Finish
// requested) until all are registered. Runs in a process of its own so that
// the memory baseline is clean: freed heap is not given back to the OS, so
// an earlier fleet in the same process would hide part of the next one.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace hil::bench {

struct FleetParams {
  size_t devices = 1000;
  bool record_messages = true;  // DeviceConfig.record_messages
  bool flash = false;           // each device with the default flash model
  bool radio = true;            // every datagram through the emulated radio
  double timeout_s = 120;
  bool psk = false;  // bootstrap and registration over DTLS-PSK
  // On the virtual clock (one loop, driven by this thread); timeout_s is
  // then protocol time.
  bool virtual_clock = false;
  int server_contexts = 0;  // RuntimeOptions::server_contexts (0: the clock's default)
};

struct FleetResult {
  size_t devices = 0;
  bool record_messages = true;
  bool flash = false;
  bool radio = true;
  bool psk = false;
  bool virtual_clock = false;
  double protocol_s = 0;  // virtual clock: the protocol time the run covered
  bool all_registered = false;
  std::string error;  // set up failed; nothing else is meaningful

  double create_s = 0;  // add_devices() until it returned
  double wall_s = 0;    // add_devices() until all registered (or timeout)
  std::map<std::string, size_t> states, exits;
  int64_t bootstrap_p50_ms = -1, bootstrap_p99_ms = -1, bootstrap_max_ms = -1;

  // Memory: RSS and malloc's in-use bytes, before the fleet and once all
  // registered (the servers and the runtime exist in both).
  int64_t rss_before_kib = 0, rss_after_kib = 0;
  int64_t heap_before_b = 0, heap_after_b = 0;

  // CoAP exchanges seen by the servers: Request Bootstrap, each bootstrap
  // command (deletes, writes, Finish), Register. Retransmissions excluded.
  uint64_t exchanges = 0;
  uint64_t bootstrap_requests = 0, bootstrap_commands = 0, registrations = 0;
  std::map<std::string, size_t> outcomes;  // the bootstrap server's view

  // Descriptors: open when all registered, and the devices that had to give
  // up their lingering bootstrap session because none was left.
  // CPU: each loop thread's over the fleet (ms, by loop index), and the
  // whole process's (user + system).
  std::map<std::string, size_t> loop_cpu_ms, loop_devices;
  double process_cpu_s = 0;

  int open_fds = 0;
  // Kernel memory: the process's sockets and what their buffers hold
  // (SO_MEMINFO), when all registered.
  int sockets = 0;
  int64_t socket_buffers_b = 0;
  int64_t fd_limit = 0;
  size_t closed_early = 0;
  size_t devices_with_failures = 0;  // a request that got no answer
  double timeline_events_per_device = 0;
  uint64_t server_events = 0;  // the bootstrap server's per-endpoint events

  double kib_per_device() const;
  double heap_kib_per_device() const;
  double socket_kib_per_device() const;
  double devices_per_s() const { return wall_s > 0 ? devices / wall_s : 0; }
  double exchanges_per_s() const { return wall_s > 0 ? exchanges / wall_s : 0; }
};

// In this process; prints nothing.
FleetResult run_fleet(const FleetParams& params);

// The child hands its result to the parent as text, one `key value` a line.
std::string serialize(const FleetResult& r);
FleetResult deserialize(const std::string& text);

}  // namespace hil::bench
