#include "emulator/lwm2m/codec/link_format.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

TEST(LinkFormat, EncodeLinks_BootstrapDiscover_LwM2MExampleForm) {
  const std::vector<Link> links = {{"/", {{"lwm2m", "1.0"}}}, {"/1/0", {}}, {"/3/0", {}}};
  EXPECT_EQ(encode_links(links), "</>;lwm2m=\"1.0\",</1/0>,</3/0>");
}

TEST(LinkFormat, EncodeLinks_IntegersBareOthersQuoted) {
  const std::vector<Link> links = {
      {"/", {{"rt", "oma.lwm2m"}, {"ct", "11543"}}},
      {"/0/1", {{"ssid", "101"}, {"uri", "coap://server_1.example.com"}}},
      {"/3", {{"obs", ""}, {"title", "a \"b\" \\c"}}}};
  EXPECT_EQ(encode_links(links),
            "</>;rt=\"oma.lwm2m\";ct=11543,"
            "</0/1>;ssid=101;uri=\"coap://server_1.example.com\","
            "</3>;obs;title=\"a \\\"b\\\" \\\\c\"");
}

TEST(LinkFormat, EncodeLinks_Empty_EmptyString) { EXPECT_EQ(encode_links({}), ""); }

TEST(LinkFormat, ParseLinks_RegisterPayload_Links) {
  Result<std::vector<Link>> r = parse_links("</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3>;ver=1.1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].target, "/");
  EXPECT_EQ((*r)[0].attrs, (Attrs{{"rt", "oma.lwm2m"}, {"ct", "11543"}}));
  EXPECT_EQ((*r)[1], (Link{"/1/0", {}}));
  EXPECT_EQ((*r)[2].attrs, (Attrs{{"ver", "1.1"}}));
}

TEST(LinkFormat, ParseLinks_WhitespaceAroundSeparators_Accepted) {
  Result<std::vector<Link>> r = parse_links("  </1/0> ; ssid = 101 ;obs ,\n\t</3/0>  ");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<Link>{{"/1/0", {{"ssid", "101"}, {"obs", ""}}}, {"/3/0", {}}}));
}

TEST(LinkFormat, ParseLinks_EscapesInQuotes_Unescaped) {
  Result<std::vector<Link>> r = parse_links(R"(</a>;t="x\"y\\z,;")");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].attrs, (Attrs{{"t", "x\"y\\z,;"}}));
}

TEST(LinkFormat, ParseLinks_Empty_NoLinks) {
  Result<std::vector<Link>> r = parse_links("   ");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(LinkFormat, ParseLinks_Garbage_ReturnsError) {
  for (const char* s :
       {"hello",        "/1/0",        "<",          "</1/0",    "<>",      "</1 0>",
        "</1>,",        ",</1>",       "</1>;",      "</1>;=5",  "</1>;a=", "</1>;a=\"x",
        "</1>;a=\"x\\", "</1> </2>",   "</1>;a=b c", "</1>;a b", "</1>x",   "</1>;a=\"x\"y",
        "<<1>",         "</1>;a=,</2>"}) {
    EXPECT_FALSE(parse_links(s).ok()) << s;
  }
}

TEST(LinkFormat, ParseLinks_Garbage_ErrorNamesOffset) {
  Result<std::vector<Link>> r = parse_links("</1>;ct=11543 x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "bad link format at offset 14: expected ',' or ';'");
}

TEST(LinkFormat, ParseLinks_TruncatedAtEveryByte_ValidOnlyAfterWholeItems) {
  const std::string full = "</>;lwm2m=\"1.0\",</0/1>;ssid=101;uri=\"coap://h\",</3/0>";
  // A cut inside <...> or "..." or right after ';', ',' or '=' leaves a
  // broken item; any other cut ends after a link, a name or a whole value.
  bool in_target = false, in_quote = false;
  for (size_t n = 1; n <= full.size(); ++n) {
    const char c = full[n - 1];
    if (!in_quote && c == '<') in_target = true;
    if (!in_quote && c == '>') in_target = false;
    if (!in_target && c == '"') in_quote = !in_quote;
    const bool whole = !in_target && !in_quote && c != ';' && c != ',' && c != '=';
    EXPECT_EQ(parse_links(full.substr(0, n)).ok(), whole) << full.substr(0, n);
  }
}

TEST(LinkFormat, EncodeParse_Links_RoundTrip) {
  const std::vector<Link> links = {
      {"/", {{"lwm2m", "1.1"}}},
      {"/0/1", {{"ssid", "-7"}, {"uri", "coaps://[::1]:5684"}, {"x", "a,b;c"}}},
      {"/2", {{"obs", ""}}}};
  Result<std::vector<Link>> back = parse_links(encode_links(links));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, links);
}

}  // namespace
}  // namespace hil::lwm2m
