#include "router.h"

#include <gtest/gtest.h>

namespace brook::http::detail {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> segments;
  EXPECT_TRUE(SplitPath(path, &segments));
  return segments;
}

TEST(Router, MatchesLiteralsAndCaptures) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/jobs", 1, nullptr));
  ASSERT_TRUE(router.Add("GET", "/jobs/{id}/vertices/{vid}", 2, nullptr));
  auto match = router.Find("GET", Segments("/jobs/j1/vertices/v%202"));
  ASSERT_EQ(match.outcome, Router::Outcome::kFound);
  EXPECT_EQ(match.payload, 2u);
  EXPECT_EQ(match.params.at("id"), "j1");
  EXPECT_EQ(match.params.at("vid"), "v 2");
  EXPECT_EQ(router.Find("GET", Segments("/jobs/")).payload, 1u);
  EXPECT_EQ(router.Find("GET", Segments("/jobs/j1")).outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(router.Find("GET", Segments("/")).outcome, Router::Outcome::kNotFound);
}

TEST(Router, LiteralSegmentBeatsCapture) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/jobs/{id}", 1, nullptr));
  ASSERT_TRUE(router.Add("GET", "/jobs/overview", 2, nullptr));
  ASSERT_TRUE(router.Add("GET", "/{a}/{b}/x", 3, nullptr));
  ASSERT_TRUE(router.Add("GET", "/{a}/y/{c}", 4, nullptr));
  EXPECT_EQ(router.Find("GET", Segments("/jobs/overview")).payload, 2u);
  EXPECT_EQ(router.Find("GET", Segments("/jobs/abc")).payload, 1u);
  // The first differing segment decides: literal "y" at the second segment wins.
  EXPECT_EQ(router.Find("GET", Segments("/q/y/x")).payload, 4u);
}

TEST(Router, CapturedSegmentMayHoldAnEncodedSlash) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/files/{name}", 1, nullptr));
  auto match = router.Find("GET", Segments("/files/a%2Fb"));
  ASSERT_EQ(match.outcome, Router::Outcome::kFound);
  EXPECT_EQ(match.params.at("name"), "a/b");
}

TEST(Router, OtherMethodIsNotAllowedWithTheAllowedList) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/jobs/{id}", 1, nullptr));
  ASSERT_TRUE(router.Add("PATCH", "/jobs/{id}", 2, nullptr));
  auto match = router.Find("DELETE", Segments("/jobs/x"));
  EXPECT_EQ(match.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, PATCH");
  EXPECT_EQ(router.Find("PATCH", Segments("/jobs/x")).payload, 2u);
}

TEST(Router, RefusesMalformedAndDuplicatePatterns) {
  Router router;
  std::string error;
  EXPECT_FALSE(router.Add("GET", "jobs", 1, &error));
  EXPECT_FALSE(router.Add("GET", "/jobs/{}", 1, &error));
  EXPECT_FALSE(router.Add("GET", "/jobs/{id", 1, &error));
  EXPECT_FALSE(router.Add("GET", "/jobs/a{id}", 1, &error));
  EXPECT_FALSE(router.Add("GET", "/jobs/{a b}", 1, &error));
  EXPECT_FALSE(router.Add("GET", "/{id}/{id}", 1, &error));
  EXPECT_FALSE(router.Add("", "/x", 1, &error));
  ASSERT_TRUE(router.Add("GET", "/jobs/{id}", 1, &error)) << error;
  EXPECT_FALSE(router.Add("GET", "/jobs/{other}", 2, &error));
  EXPECT_NE(error.find("already routed"), std::string::npos);
  EXPECT_TRUE(router.Add("POST", "/jobs/{other}", 2, &error));
}

TEST(SplitPath, DecodesAndDropsEmptySegments) {
  EXPECT_EQ(Segments("//a//b%20c/"), (std::vector<std::string>{"a", "b c"}));
  EXPECT_TRUE(Segments("/").empty());
  std::vector<std::string> segments;
  EXPECT_FALSE(SplitPath("/a/%zz", &segments));
}

}  // namespace
}  // namespace brook::http::detail
