#include "emulator/lwm2m/model/object_def.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

const ObjectDef& def(uint16_t id) {
  const ObjectDef* d = ObjectRegistry::builtin().find(id);
  EXPECT_NE(d, nullptr) << id;
  return *d;
}

TEST(ObjectDef, Builtin_Ids_CoreObjectsFromDdfFiles) {
  EXPECT_EQ(ObjectRegistry::builtin().ids(), (std::vector<uint16_t>{0, 1, 2, 3, 4, 5, 7}));
  EXPECT_EQ(ObjectRegistry::builtin().find(6), nullptr);
}

TEST(ObjectDef, Builtin_FirmwareUpdate_OmaTable) {
  const ObjectDef& f = def(5);
  EXPECT_FALSE(f.multiple);
  EXPECT_EQ(f.resource(0)->type, ResourceType::Opaque);
  EXPECT_EQ(f.resource(0)->ops, Ops::W);
  EXPECT_EQ(f.resource(1)->type, ResourceType::String);
  EXPECT_EQ(f.resource(2)->ops, Ops::E);
  EXPECT_EQ(f.resource(4), nullptr);  // removed before 1.0 was final
  EXPECT_TRUE(f.resource(9)->mandatory);
}

TEST(ObjectDef, Builtin_Connectivity_OmaTables) {
  EXPECT_TRUE(def(4).resource(1)->multiple);
  EXPECT_EQ(def(4).resource(4)->type, ResourceType::String);
  EXPECT_EQ(def(7).resource(6)->ops, Ops::E);
  EXPECT_EQ(def(7).resource(8)->ops, Ops::RW);
}

TEST(ObjectDef, Builtin_Security_OmaTable) {
  const ObjectDef& s = def(kSecurity);
  EXPECT_TRUE(s.multiple);
  for (uint16_t rid = 0; rid <= 17; ++rid) {
    ASSERT_NE(s.resource(rid), nullptr) << rid;
  }
  EXPECT_EQ(s.resource(security::kUri)->type, ResourceType::String);
  EXPECT_EQ(s.resource(security::kBootstrapServer)->type, ResourceType::Boolean);
  EXPECT_EQ(s.resource(security::kMode)->type, ResourceType::Integer);
  EXPECT_EQ(s.resource(security::kIdentity)->type, ResourceType::Opaque);
  EXPECT_EQ(s.resource(security::kSecretKey)->type, ResourceType::Opaque);
  EXPECT_EQ(s.resource(security::kShortServerId)->type, ResourceType::Integer);
  EXPECT_FALSE(s.resource(security::kShortServerId)->mandatory);
  EXPECT_EQ(s.resource(security::kHoldOff)->type, ResourceType::Integer);
  EXPECT_TRUE(s.resource(16)->multiple);
}

TEST(ObjectDef, Builtin_Server_OmaTable) {
  const ObjectDef& s = def(kServer);
  for (uint16_t rid = 0; rid <= 23; ++rid) {
    ASSERT_NE(s.resource(rid), nullptr) << rid;
  }
  EXPECT_EQ(s.resource(server::kShortServerId)->type, ResourceType::Integer);
  EXPECT_TRUE(s.resource(server::kLifetime)->mandatory);
  EXPECT_EQ(s.resource(server::kBinding)->type, ResourceType::String);
  EXPECT_EQ(s.resource(server::kUpdateTrigger)->ops, Ops::E);
  EXPECT_EQ(s.resource(server::kBootstrapTrigger)->type, ResourceType::None);
  EXPECT_EQ(s.resource(12)->type, ResourceType::Time);
}

TEST(ObjectDef, Builtin_AccessControl_AclIsMultiple) {
  const ObjectDef& a = def(kAccessControl);
  EXPECT_EQ(a.resources.size(), 4u);
  EXPECT_TRUE(a.resource(2)->multiple);
  EXPECT_TRUE(a.resource(3)->mandatory);
}

TEST(ObjectDef, Builtin_Device_Lwm2m10Table) {
  const ObjectDef& d = def(kDevice);
  EXPECT_FALSE(d.multiple);
  EXPECT_EQ(d.resources.size(), 23u);
  for (uint16_t rid = 0; rid <= 22; ++rid) {
    ASSERT_NE(d.resource(rid), nullptr) << rid;
  }
  EXPECT_EQ(d.resource(device::kManufacturer)->type, ResourceType::String);
  EXPECT_EQ(d.resource(device::kReboot)->ops, Ops::E);
  EXPECT_TRUE(d.resource(device::kReboot)->mandatory);
  EXPECT_EQ(d.resource(device::kFactoryReset)->type, ResourceType::None);
  EXPECT_TRUE(d.resource(6)->multiple);
  EXPECT_TRUE(d.resource(11)->multiple);
  EXPECT_TRUE(d.resource(11)->mandatory);
  EXPECT_EQ(d.resource(13)->type, ResourceType::Time);
  EXPECT_TRUE(d.resource(device::kBindings)->mandatory);
  EXPECT_EQ(d.resource(device::kBindings)->type, ResourceType::String);
  EXPECT_EQ(d.resource(22)->type, ResourceType::ObjLink);
}

TEST(ObjectDef, Resource_UnknownId_Null) { EXPECT_EQ(def(kDevice).resource(99), nullptr); }

TEST(ObjectRegistry, Add_NewObject_Found) {
  ObjectRegistry r;
  r.add({3303,
         "Temperature",
         true,
         {{5700, "Sensor Value", ResourceType::Float, false, true, Ops::R}}});
  ASSERT_NE(r.find(3303), nullptr);
  EXPECT_EQ(r.find(3303)->resource(5700)->name, "Sensor Value");
  EXPECT_EQ(r.ids(), std::vector<uint16_t>{3303});
}

}  // namespace
}  // namespace hil::lwm2m
