#include <gtest/gtest.h>

#include "emulator/server/bootstrap_config.h"

namespace hil::server {
namespace {

TEST(GlobMatch, Star_MatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("dev-*", "dev-"));
  EXPECT_TRUE(glob_match("dev-*", "dev-0042"));
  EXPECT_TRUE(glob_match("*-42", "dev-42"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
}

TEST(GlobMatch, QuestionMark_MatchesExactlyOneCharacter) {
  EXPECT_TRUE(glob_match("dev-?", "dev-1"));
  EXPECT_FALSE(glob_match("dev-?", "dev-"));
  EXPECT_FALSE(glob_match("dev-?", "dev-12"));
}

TEST(GlobMatch, Literal_MatchesWholeStringOnly) {
  EXPECT_TRUE(glob_match("dev-1", "dev-1"));
  EXPECT_FALSE(glob_match("dev-1", "dev-10"));
  EXPECT_FALSE(glob_match("dev-1", "xdev-1"));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(GlobMatch, StarNeedsBacktracking_StillMatches) {
  EXPECT_TRUE(glob_match("*ab", "aab"));
  EXPECT_TRUE(glob_match("*a*ab", "xaxaab"));
  EXPECT_FALSE(glob_match("*ab", "aba"));
}

}  // namespace
}  // namespace hil::server
