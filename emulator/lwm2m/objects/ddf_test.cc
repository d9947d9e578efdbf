#include "emulator/lwm2m/objects/ddf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace hil::lwm2m {
namespace {

std::string doc(const std::string& items, const std::string& id = "33000") {
  return "<?xml version=\"1.0\"?>\n<LWM2M>\n<Object ObjectType=\"MODefinition\">\n"
         "<Name>Meter</Name><ObjectID>" +
         id +
         "</ObjectID><MultipleInstances>Multiple</MultipleInstances>"
         "<Mandatory>Optional</Mandatory>\n<Resources>\n" +
         items + "</Resources></Object></LWM2M>\n";
}

std::string item(const std::string& id, const std::string& type, const std::string& ops = "RW",
                 const std::string& multi = "Single") {
  return "<Item ID=\"" + id + "\"><Name>r" + id + "</Name><Operations>" + ops +
         "</Operations><MultipleInstances>" + multi +
         "</MultipleInstances><Mandatory>Optional</Mandatory><Type>" + type +
         "</Type><Description>any &lt;text&gt;</Description></Item>\n";
}

Result<ObjectDef> parse(const std::string& xml) {
  return ddf::parse(xml.data(), xml.size(), "m.xml");
}

std::string error_of(const std::string& xml) {
  auto r = parse(xml);
  return r ? "(parsed)" : r.error().message;
}

TEST(Ddf, Parse_UserObject_AllFields) {
  auto def = parse(doc(item("0", "String", "R") + item("1", "Integer") +
                       item("2", "Unsigned Integer", "RW", "Multiple") + item("3", "", "E")));
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->id, 33000);
  EXPECT_EQ(def->name, "Meter");
  EXPECT_TRUE(def->multiple);
  ASSERT_EQ(def->resources.size(), 4u);
  EXPECT_EQ(def->resource(0)->ops, Ops::R);
  EXPECT_EQ(def->resource(1)->type, ResourceType::Integer);
  EXPECT_EQ(def->resource(2)->type, ResourceType::UnsignedInteger);
  EXPECT_TRUE(def->resource(2)->multiple);
  EXPECT_FALSE(def->resource(2)->mandatory);
  EXPECT_EQ(def->resource(3)->type, ResourceType::None);
  EXPECT_EQ(def->resource(3)->ops, Ops::E);
}

TEST(Ddf, Parse_UnknownType_ErrorNamesFileLineAndType) {
  EXPECT_EQ(error_of(doc(item("0", "String") + item("1", "Decimal"))).substr(0, 40),
            "m.xml:7: <Type> 'Decimal' is not String,");
}

TEST(Ddf, Parse_MalformedXml_ErrorNamesLine) {
  EXPECT_EQ(error_of("<LWM2M>\n<Object>\n</LWM2M>"), "m.xml:3: malformed XML: mismatched tag");
}

TEST(Ddf, Parse_BadFields_ClearErrors) {
  EXPECT_NE(error_of(doc(item("0", "Integer", "RX"))).find("<Operations> 'RX' is not R, W, RW, E"),
            std::string::npos);
  EXPECT_NE(
      error_of(doc(item("0", "Integer", "R", "Many"))).find("'Many' is not Multiple or Single"),
      std::string::npos);
  EXPECT_NE(
      error_of(doc(item("0", "Integer") + item("0", "String"))).find("resource 0 is defined twice"),
      std::string::npos);
  EXPECT_NE(error_of(doc(item("x", "Integer"))).find("<Item> needs an ID attribute 0..65534"),
            std::string::npos);
  EXPECT_NE(error_of(doc("", "65535")).find("<ObjectID> '65535' is not a number 0..65534"),
            std::string::npos);
  EXPECT_NE(error_of("<Other/>").find("the root element is <Other>, not <LWM2M>"),
            std::string::npos);
  EXPECT_NE(error_of("<LWM2M></LWM2M>").find("no <Object> with an <ObjectID>"), std::string::npos);
  EXPECT_NE(error_of("").find("m.xml:1: malformed XML"), std::string::npos);
}

// The generator (ddf_to_cc.py) and this loader read the same files the same
// way: what the firmware compiles in is what a host user would load.
TEST(Ddf, Load_ShippedFiles_MatchBuiltinTables) {
  for (uint16_t id : ObjectRegistry::builtin().ids()) {
    const std::string path = std::string(HIL_OBJECTS_DIR) + "/" + std::to_string(id) + ".xml";
    auto def = ddf::load(path);
    ASSERT_TRUE(def) << def.error().message;
    const ObjectDef& b = *ObjectRegistry::builtin().find(id);
    EXPECT_EQ(def->id, b.id);
    EXPECT_EQ(def->name, b.name);
    EXPECT_EQ(def->multiple, b.multiple);
    ASSERT_EQ(def->resources.size(), b.resources.size()) << path;
    for (size_t i = 0; i < b.resources.size(); ++i) {
      const ResourceDef &l = def->resources[i], &r = b.resources[i];
      EXPECT_EQ(std::tie(l.id, l.name, l.type, l.multiple, l.mandatory, l.ops),
                std::tie(r.id, r.name, r.type, r.multiple, r.mandatory, r.ops))
          << path << " resource " << r.id;
    }
  }
}

TEST(Ddf, Load_MissingFile_NamesPath) {
  auto def = ddf::load("/nonexistent/9.xml");
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().message,
            "/nonexistent/9.xml: cannot be read (no such file, or no permission)");
}

class DdfFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& xml) {
    std::string path = ::testing::TempDir() + name;
    std::ofstream(path) << xml;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }
  std::vector<std::string> paths_;
};

TEST_F(DdfFiles, RegistryWith_UserObject_AddedToBuiltin) {
  auto reg = ddf::registry_with({write("33000.xml", doc(item("1", "Integer")))});
  ASSERT_TRUE(reg) << reg.error().message;
  ASSERT_NE(reg->find(33000), nullptr);
  EXPECT_NE(reg->find(kDevice), nullptr);
  EXPECT_EQ(ObjectRegistry::builtin().find(33000), nullptr);
}

TEST_F(DdfFiles, RegistryWith_BuiltinOrDuplicateId_Error) {
  const std::string three = write("3.xml", doc(item("1", "Integer"), "3"));
  EXPECT_EQ(ddf::registry_with({three}).error().message,
            three + ": object 3 is builtin; give your object another id");
  const std::string a = write("a.xml", doc(item("1", "Integer")));
  const std::string b = write("b.xml", doc(item("1", "String")));
  EXPECT_EQ(ddf::registry_with({a, b}).error().message,
            b + ": object 33000 is defined by another file too");
}

}  // namespace
}  // namespace hil::lwm2m
