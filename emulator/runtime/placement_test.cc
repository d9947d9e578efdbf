// Device groups placed around the servers' load: loops without servers
// take turns; a loop carrying a server gets fewer devices, in proportion
// to what the server costs per device.
#include "emulator/runtime/placement.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "emulator/runtime/runtime.h"
#include "emulator/server/bootstrap_config.h"

namespace hil::runtime {
namespace {

// Places `groups` groups of `per_group` devices one after the other, as
// the runtime does, and returns the devices each loop got.
std::vector<size_t> place(size_t loops, const std::vector<double>& server_cost, size_t groups,
                          size_t per_group = 100) {
  std::vector<double> load(loops, 0.0);
  std::vector<size_t> devices(loops, 0);
  for (size_t i = 0; i < groups; ++i) {
    size_t chosen = least_loaded_loop(load, server_cost, per_group);
    add_load(load, server_cost, chosen, per_group);
    devices[chosen] += per_group;
  }
  return devices;
}

TEST(Placement, NoServers_LoopsTakeTurns_LowerIndexFirst) {
  std::vector<double> load(2, 0.0);
  std::vector<size_t> order;
  for (int i = 0; i < 4; ++i) {
    size_t chosen = least_loaded_loop(load, {0.0, 0.0}, 100);
    add_load(load, {0.0, 0.0}, chosen, 100);
    order.push_back(chosen);
  }
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 0, 1}));
}

// A bootstrap server on loop 0 costing a device's worth per device, a
// registration server on loop 1 a quarter: the loops end within a group
// of each other, loop 0 with an eighth of the fleet (N/8 + N = 7N/8 + N/4).
TEST(Placement, ServersOnBothLoops_LoopsBalanceAroundTheirLoad) {
  auto devices = place(2, {1.0, 0.25}, 100);
  EXPECT_EQ(devices[0] + devices[1], 10000u);
  EXPECT_NEAR(static_cast<double>(devices[0]), 1250.0, 100.0);
  double load0 = static_cast<double>(devices[0]) + 1.0 * 10000;
  double load1 = static_cast<double>(devices[1]) + 0.25 * 10000;
  EXPECT_NEAR(load0, load1, 2 * 100.0);
}

// A server heavier than all the devices together: its loop gets none.
TEST(Placement, ServerOutweighsTheFleet_ItsLoopGetsNoDevices) {
  auto devices = place(3, {0.0, 0.0, 5.0}, 30);
  EXPECT_EQ(devices[2], 0u);
  EXPECT_EQ(devices[0], 1500u);
  EXPECT_EQ(devices[1], 1500u);
}

// Fleets added later see the load of the earlier ones: a second fleet
// without servers fills the loop the first one left lighter.
TEST(Placement, LaterFleet_FillsTheLighterLoopFirst) {
  std::vector<double> load(2, 0.0);
  for (int i = 0; i < 20; ++i) {
    size_t chosen = least_loaded_loop(load, {1.0, 0.0}, 100);
    add_load(load, {1.0, 0.0}, chosen, 100);
  }
  EXPECT_EQ(least_loaded_loop(load, {0.0, 0.0}, 100),
            0u);  // loop 1: 2000 devices, loop 0: 2000 of servers
  for (int i = 0; i < 4; ++i)
    add_load(load, {0.0, 0.0}, least_loaded_loop(load, {0.0, 0.0}, 100), 100);
  EXPECT_NEAR(load[0], load[1], 100.0);
}

// A runtime with both embedded servers: a fleet that bootstraps there
// leaves the bootstrap server's loop (0) the smaller part, over NoSec
// smaller than over DTLS; a fleet of devices that use no embedded server
// is split evenly.
class RuntimePlacement : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rs = rt_.add_registration_server(coap::Timing{}, server::PskTable{}, "127.0.0.1:0");
    ASSERT_TRUE(rs) << rs.error().message;
    auto config = server::parse_bootstrap_config(
        R"({"endpoints": [{"match": "*", "servers": [{"ssid": 1, "uri": ")" + rs->uri() +
        R"(", "lifetime": 300}]}]})");
    ASSERT_TRUE(config) << config.error().message;
    auto bs = rt_.add_bootstrap_server(std::move(*config), lwm2m::Profile::Cr, coap::Timing{},
                                       "127.0.0.1:0");
    ASSERT_TRUE(bs) << bs.error().message;
    bs_uri_ = bs->uri();
    bs_secure_uri_ = bs->secure_uri();
  }
  std::vector<size_t> add(const std::string& bootstrap_uri, size_t count) {
    device::DeviceConfig c;
    c.factory.bootstrap_uri = bootstrap_uri;
    auto added = rt_.add_devices(c, count, "d" + std::to_string(next_++) + "-", /*start=*/false);
    EXPECT_TRUE(added) << added.error().message;
    return rt_.devices_per_loop();
  }

  Runtime rt_{RuntimeOptions{/*seed=*/1, /*threads=*/2}};
  std::string bs_uri_, bs_secure_uri_;
  int next_ = 0;
};

TEST_F(RuntimePlacement, NoSecFleet_BootstrapLoopGetsAboutThreeEighths) {
  auto devices = add(bs_uri_, 2000);
  EXPECT_EQ(devices[0] + devices[1], 2000u);
  EXPECT_GE(devices[0], 650u);
  EXPECT_LE(devices[0], 850u);
}

TEST_F(RuntimePlacement, DtlsFleet_BootstrapLoopGetsAboutTwoFifths) {
  auto devices = add(bs_secure_uri_, 2000);
  EXPECT_GE(devices[0], 700u);
  EXPECT_LE(devices[0], 900u);
}

TEST_F(RuntimePlacement, FleetOfAnotherServer_SplitEvenly) {
  auto devices = add("coap://127.0.0.1:9", 2000);
  EXPECT_EQ(devices[0], 1000u);
  EXPECT_EQ(devices[1], 1000u);
}

}  // namespace
}  // namespace hil::runtime
