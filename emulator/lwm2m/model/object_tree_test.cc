#include "emulator/lwm2m/model/object_tree.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

TEST(ObjectTree, Set_ThenGet_TypedValue) {
  ObjectTree t;
  t.set(1, 0, 1, int64_t{300});
  EXPECT_EQ(t.get<int64_t>(1, 0, 1), 300);
  EXPECT_EQ(t.get<std::string>(1, 0, 1), std::nullopt);
  EXPECT_EQ(t.get<int64_t>(1, 0, 2), std::nullopt);
  EXPECT_EQ(t.get<int64_t>(1, 1, 1), std::nullopt);
  EXPECT_EQ(t.get<int64_t>(2, 0, 1), std::nullopt);
}

TEST(ObjectTree, Value_MultipleResource_Null) {
  ObjectTree t;
  t.objects()[3][0][6] = Resource{true, {{0, int64_t{1}}}};
  EXPECT_EQ(t.value(3, 0, 6), nullptr);
  ASSERT_NE(t.resource(3, 0, 6), nullptr);
  EXPECT_TRUE(t.resource(3, 0, 6)->multiple);
}

TEST(ObjectTree, MergeInstance_Existing_ReplacesOnlyCarriedResources) {
  ObjectTree t;
  t.set(1, 0, 0, int64_t{101});
  t.set(1, 0, 1, int64_t{300});
  t.merge_instance(1, 0,
                   {{1, Resource::single(int64_t{60})}, {7, Resource::single(std::string("U"))}});
  EXPECT_EQ(t.get<int64_t>(1, 0, 0), 101);
  EXPECT_EQ(t.get<int64_t>(1, 0, 1), 60);
  EXPECT_EQ(t.get<std::string>(1, 0, 7), "U");
}

TEST(ObjectTree, MergeInstance_Missing_CreatesInstance) {
  ObjectTree t;
  t.merge_instance(0, 4, {});
  EXPECT_NE(t.instance(0, 4), nullptr);
}

TEST(ObjectTree, Erase_InstanceAndObject_Gone) {
  ObjectTree t;
  t.set(0, 0, 1, true);
  t.set(0, 1, 1, false);
  t.set(1, 0, 0, int64_t{1});
  t.erase(0, 1);
  EXPECT_EQ(t.instance(0, 1), nullptr);
  EXPECT_NE(t.instance(0, 0), nullptr);
  t.erase(0);
  EXPECT_EQ(t.object(0), nullptr);
  t.erase(7, 0);  // absent: no effect
  t.erase(7);
  EXPECT_NE(t.object(1), nullptr);
}

TEST(ObjectTree, MutableInstance_Edit_Visible) {
  ObjectTree t;
  t.set(1, 0, 1, int64_t{1});
  Instance* i = t.instance(1, 0);
  ASSERT_NE(i, nullptr);
  (*i)[1] = Resource::single(int64_t{2});
  EXPECT_EQ(t.get<int64_t>(1, 0, 1), 2);
  EXPECT_EQ(t.instance(1, 9), nullptr);
}

TEST(ObjectTree, Equality_SameContent_Equal) {
  ObjectTree a, b;
  a.set(3, 0, 0, std::string("acme"));
  b.set(3, 0, 0, std::string("acme"));
  EXPECT_EQ(a, b);
  b.set(3, 0, 1, std::string("m"));
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace hil::lwm2m
