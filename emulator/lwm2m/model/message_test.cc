#include "emulator/lwm2m/model/message.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

TEST(Message, ToStringCode_AllCodes_ClassDotTwoDigitDetail) {
  EXPECT_EQ(to_string(Code::Created), "2.01");
  EXPECT_EQ(to_string(Code::Changed), "2.04");
  EXPECT_EQ(to_string(Code::Content), "2.05");
  EXPECT_EQ(to_string(Code::BadRequest), "4.00");
  EXPECT_EQ(to_string(Code::NotAcceptable), "4.06");
  EXPECT_EQ(to_string(Code::UnsupportedFormat), "4.15");
  EXPECT_EQ(to_string(Code::InternalError), "5.00");
}

TEST(Message, IsSuccess_TwoXxAndErrors_OnlyTwoXxSucceed) {
  EXPECT_TRUE(is_success(Code::Deleted));
  EXPECT_FALSE(is_success(Code::NotFound));
  EXPECT_FALSE(is_success(Code::InternalError));
}

TEST(Message, ToStringMethod_AllMethods_CoapNames) {
  EXPECT_EQ(to_string(Method::Get), "GET");
  EXPECT_EQ(to_string(Method::Post), "POST");
  EXPECT_EQ(to_string(Method::Put), "PUT");
  EXPECT_EQ(to_string(Method::Delete), "DELETE");
}

TEST(Message, UriPath_NoSegments_Slash) { EXPECT_EQ(Request{}.uri_path(), "/"); }

TEST(Message, UriPath_Segments_JoinedWithSlashes) {
  Request r;
  r.path = {"1", "0", "1"};
  EXPECT_EQ(r.uri_path(), "/1/0/1");
}

TEST(Message, QueryParam_KeyValueAndBareKey_Found) {
  Request r;
  r.query = {"ep=dev-1", "Finish=true", "flag", "epx=other"};
  EXPECT_EQ(r.query_param("ep"), "dev-1");
  EXPECT_EQ(r.query_param("Finish"), "true");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("epx"), "other");
}

TEST(Message, QueryParam_PrefixOfOtherKeyOrMissing_Nullopt) {
  Request r;
  r.query = {"epx=1", "pct=11542"};
  EXPECT_EQ(r.query_param("ep"), std::nullopt);
  EXPECT_EQ(r.query_param("lt"), std::nullopt);
}

TEST(Message, QueryParam_EmptyValue_EmptyString) {
  Request r;
  r.query = {"ep="};
  EXPECT_EQ(r.query_param("ep"), "");
}

}  // namespace
}  // namespace hil::lwm2m
