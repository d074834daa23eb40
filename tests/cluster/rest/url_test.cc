#include "brook/cluster/rest/url.h"

#include <gtest/gtest.h>

namespace brook::http {
namespace {

TEST(PercentDecode, DecodesEscapesOfEitherCase) {
  EXPECT_EQ(PercentDecode("a%20b%2fc%2F"), "a b/c/");
  EXPECT_EQ(PercentDecode("%C3%A9t%c3%a9"), "\xC3\xA9t\xC3\xA9");
}

TEST(PercentDecode, PlusIsSpaceOnlyInQueries) {
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a%2Bb", true), "a+b");
}

TEST(PercentDecode, RefusesMalformedEscapesAndNul) {
  EXPECT_FALSE(PercentDecode("%"));
  EXPECT_FALSE(PercentDecode("ab%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
  EXPECT_FALSE(PercentDecode("%g1"));
  EXPECT_FALSE(PercentDecode("a%00b"));
}

TEST(PercentEncode, KeepsUnreservedAndRoundTrips) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
  std::string all;
  for (int c = 1; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
}

TEST(ParseQuery, ParsesPairsFlagsAndEscapes) {
  auto query = ParseQuery("a=1&b=x%20y+z&flag&&empty=&a=2");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->at("a"), "2");  // the last value wins
  EXPECT_EQ(query->at("b"), "x y z");
  EXPECT_EQ(query->at("flag"), "");
  EXPECT_EQ(query->at("empty"), "");
  EXPECT_EQ(query->size(), 4u);
}

TEST(ParseQuery, ValueMayContainEquals) {
  auto query = ParseQuery("expr=a%3Db=c");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->at("expr"), "a=b=c");
}

TEST(ParseQuery, RefusesMalformedEscapes) {
  EXPECT_FALSE(ParseQuery("a=%zz"));
  EXPECT_FALSE(ParseQuery("%=1"));
  EXPECT_TRUE(ParseQuery("")->empty());
}

}  // namespace
}  // namespace brook::http
