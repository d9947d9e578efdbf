#include "emulator/lwm2m/model/path.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

TEST(Path, Parse_Root_DepthZero) {
  Result<Path> p = Path::parse("/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->depth(), 0);
  EXPECT_EQ(*p, Path::root());
  EXPECT_EQ(p->str(), "/");
}

TEST(Path, Parse_AllDepths_IdsAndStrRoundTrip) {
  for (const char* text : {"/3", "/3/0", "/1/0/1", "/3/0/6/2"}) {
    Result<Path> p = Path::parse(text);
    ASSERT_TRUE(p.ok()) << text << ": " << p.error().message;
    EXPECT_EQ(p->str(), text);
  }
  Result<Path> p = Path::parse("/1/2/3/4");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->depth(), 4);
  EXPECT_EQ(p->obj, 1);
  EXPECT_EQ(p->inst, 2);
  EXPECT_EQ(p->res, 3);
  EXPECT_EQ(p->riid, 4);
}

TEST(Path, Parse_LargestId_Accepted) {
  Result<Path> p = Path::parse("/65534");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->obj, 65534);
}

TEST(Path, Parse_NonNumericSegment_ErrorNamesSegment) {
  Result<Path> p = Path::parse("/x/1");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message,
            "'/x/1' is not an LwM2M path: segment 'x' is not a number "
            "0..65534");
}

TEST(Path, Parse_BadInputs_Error) {
  for (const char* text : {"", "3/0", "/65535", "/99999", "/123456", "/3/", "//3", "/3//1", "/-1",
                           "/+1", "/1 ", "/1/2/3/4/5", "/0x1"}) {
    Result<Path> p = Path::parse(text);
    EXPECT_FALSE(p.ok()) << text;
  }
}

TEST(Path, Parse_MissingSlash_ErrorSaysSo) {
  Result<Path> p = Path::parse("3/0");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "'3/0' is not an LwM2M path: it must start with '/'");
}

TEST(Path, Parse_TooDeep_ErrorCountsSegments) {
  Result<Path> p = Path::parse("/1/2/3/4/5");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().message.find("5 segments"), std::string::npos);
}

TEST(Path, FromSegments_EmptyList_Root) {
  Result<Path> p = Path::from_segments({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->depth(), 0);
}

TEST(Path, FromSegments_CoapSegments_SameAsParse) {
  Result<Path> p = Path::from_segments({"0", "1", "10"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, *Path::parse("/0/1/10"));
}

TEST(Path, FromSegments_BadSegment_ErrorShowsWholePath) {
  Result<Path> p = Path::from_segments({"bs"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message,
            "'/bs' is not an LwM2M path: segment 'bs' is not a number "
            "0..65534");
}

}  // namespace
}  // namespace hil::lwm2m
