// The configuration on the flash, as native devices and the firmware image
// use it: a blank chip gets the factory image, a commit is what the next
// boot returns, every boot is counted, and a power cut inside a commit
// leaves the old tree whole.
#include "emulator/storage/stored_config.h"

#include <gtest/gtest.h>

#include "emulator/lwm2m/client/factory.h"
#include "emulator/lwm2m/model/object_def.h"

namespace hil::storage {
namespace {

flash::NorFlashOptions chip() {
  flash::NorFlashOptions o;
  o.geometry = flash::Geometry{8 * 1024, 4 * 1024, 256};
  return o;
}

lwm2m::ObjectTree factory() {
  lwm2m::Factory f;
  f.bootstrap_uri = "coap://127.0.0.1:5683";
  lwm2m::ObjectTree t = lwm2m::factory_tree(f, "dev-1");
  t.objects().erase(lwm2m::kDevice);
  return t;
}

// The factory tree plus the account bootstrap wrote.
lwm2m::ObjectTree bootstrapped() {
  lwm2m::ObjectTree t = factory();
  t.set(lwm2m::kSecurity, 1, lwm2m::security::kUri, std::string("coap://127.0.0.1:5684"));
  return t;
}

// A configuration on `flash` past its first boot; null if that failed.
std::unique_ptr<StoredConfig> booted_config(flash::NorFlash& flash) {
  auto config = StoredConfig::create(flash, factory());
  if (!config || !(*config)->boot()) return nullptr;
  return std::move(*config);
}

std::string security_uri(const lwm2m::ObjectTree& t, uint16_t inst) {
  return t.get<std::string>(lwm2m::kSecurity, inst, lwm2m::security::kUri).value_or("");
}

TEST(StoredConfig, BlankChip_BootsTheFactoryImage_CountsBoots) {
  flash::NorFlash flash(chip());
  auto created = StoredConfig::create(flash, factory());
  ASSERT_TRUE(created) << created.error().message;
  StoredConfig& config = **created;
  auto first = config.boot();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(security_uri(*first, 0), "coap://127.0.0.1:5683");
  auto events = config.take_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, "flash_factory_image");
  EXPECT_EQ(config.store().boot_count(), 1u);
  ASSERT_TRUE(config.boot());
  EXPECT_EQ(config.store().boot_count(), 2u);
  EXPECT_TRUE(config.take_events().empty());  // no second factory image
}

TEST(StoredConfig, Commit_IsWhatTheNextBootReturns_FactoryResetUndoesIt) {
  flash::NorFlash flash(chip());
  auto config = booted_config(flash);
  ASSERT_TRUE(config);
  lwm2m::ObjectTree next = bootstrapped();
  ASSERT_TRUE(config->commit(next));
  auto booted = config->boot();
  ASSERT_TRUE(booted);
  EXPECT_EQ(security_uri(*booted, 1), "coap://127.0.0.1:5684");
  ASSERT_TRUE(config->factory_reset());
  booted = config->boot();
  ASSERT_TRUE(booted);
  EXPECT_EQ(security_uri(*booted, 1), "");
}

TEST(StoredConfig, PowerCutInsideACommit_BootsTheOldTreeWhole) {
  flash::NorFlash flash(chip());
  auto config = booted_config(flash);
  ASSERT_TRUE(config);
  lwm2m::ObjectTree next = bootstrapped();
  flash.arm_power_cut(flash.ops(), 3);  // tears the commit's first program
  Status st = config->commit(next);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kPowerLost);
  auto booted = config->boot();
  ASSERT_TRUE(booted) << booted.error().message;
  EXPECT_EQ(*booted, factory());
}

TEST(StoredConfig, OneSector_IsRefusedNamingTheGeometry) {
  Status st = StoredConfig::validate(flash::Geometry{4096, 4096, 256});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find("at least 2 sectors"), std::string::npos);
}

}  // namespace
}  // namespace hil::storage
