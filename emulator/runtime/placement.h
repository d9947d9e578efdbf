// Where a new device group goes. Each loop thread carries device groups
// and, on loop 0 and the last loop, the embedded bootstrap and
// registration servers, whose work grows with the fleet they serve. Loads
// are counted in devices: a device costs 1 on its own loop, and each
// server it uses costs its loop a share of a device (ServerCosts). A new
// group goes to the loop that is least loaded once it is added, so that
// the loops balance around the servers' load instead of taking turns.
#pragma once

#include <cstddef>
#include <vector>

namespace hil::runtime {

// CPU a server spends per device it serves, against what the device's
// own loop spends on it. Measured with fleet_bench (tests/bench/README.md):
// 10,000-device fleets with every device on the registration server's
// loop, then on the bootstrap server's, leave one server alone on the
// other loop. Over DTLS the devices' own share grows most (each runs two
// handshakes and keeps two sessions), so a bootstrap server weighs less
// against its devices; the registration server more (its sessions stay).
// Since datagrams reach the servers in memory (base/switchboard.h), a
// NoSec registration server costs about half what a bootstrap server
// does: refitted so the two loops' CPU came out within 10 %.
struct ServerCosts {
  double bootstrap_nosec = 0.6;
  double bootstrap_psk = 0.65;
  double registration_nosec = 0.35;
  double registration_psk = 0.45;
};

// The loop for `devices` more devices: the index i with the least
// load[i] + devices * (1 + server_cost[i]); ties go to the lower index.
// `load`: each loop's load so far; `server_cost`: what one device of
// this kind adds to each loop through the servers there.
size_t least_loaded_loop(const std::vector<double>& load, const std::vector<double>& server_cost,
                         size_t devices);

// Adds `devices` placed on loop `chosen` to `load`: one each there, and
// their servers' share on every loop.
void add_load(std::vector<double>& load, const std::vector<double>& server_cost, size_t chosen,
              size_t devices);

}  // namespace hil::runtime
