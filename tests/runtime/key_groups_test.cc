#include "brook/runtime/key_groups.h"

#include <gtest/gtest.h>

#include <string>

namespace brook {
namespace {

TEST(KeyGroups, SubtaskRangesTileAllKeyGroupsAndAgreeWithTheOwnerFunction) {
  for (int max_p : {1, 7, 128, 1000}) {
    for (int p = 1; p <= std::min(max_p, 17); ++p) {
      int32_t expected_first = 0;
      for (int subtask = 0; subtask < p; ++subtask) {
        auto range = KeyGroupRange::ForSubtask(subtask, max_p, p);
        EXPECT_EQ(range.first, expected_first) << max_p << "/" << p << "/" << subtask;
        for (int32_t g = range.first; g <= range.last; ++g)
          EXPECT_EQ(SubtaskForKeyGroup(KeyGroup(g), max_p, p), subtask);
        expected_first = range.last + 1;
      }
      EXPECT_EQ(expected_first, max_p);
    }
  }
}

TEST(KeyGroups, KeysSpreadOverKeyGroups) {
  const int max_p = 128;
  std::vector<int> hits(max_p, 0);
  for (uint64_t k = 0; k < 128 * 100; ++k) ++hits[size_t(KeyGroupFor(k, max_p).value())];
  for (int h : hits) {
    EXPECT_GT(h, 50);
    EXPECT_LT(h, 160);
  }
}

TEST(KeyGroups, StringPairAndTupleKeysHash) {
  EXPECT_EQ(KeyGroupFor(std::string("user-1"), 128), KeyGroupFor(std::string("user-1"), 128));
  auto a = KeyGroupFor(std::make_pair(std::string("a"), 1), 128);
  auto b = KeyGroupFor(std::make_pair(std::string("a"), 1), 128);
  EXPECT_EQ(a, b);
  auto t = KeyGroupFor(std::make_tuple(1, 2L, std::string("x")), 128);
  EXPECT_GE(t.value(), 0);
  EXPECT_LT(t.value(), 128);
}

}  // namespace
}  // namespace brook
