#include "brook/checkpoint/key_group_redistribution.h"

#include <gtest/gtest.h>

namespace brook {
namespace {

TEST(KeyGroupRedistribution, EveryKeyGroupMovesFromItsOldOwnerToItsNewOwner) {
  const int max_p = 128;
  for (int old_p : {1, 2, 3, 7}) {
    for (int new_p : {1, 2, 3, 5, 8}) {
      std::vector<int> restored(max_p, 0);
      for (int s = 0; s < new_p; ++s) {
        for (const auto& t : KeyGroupsToRestore(s, new_p, old_p, max_p)) {
          for (int32_t g = t.range.first; g <= t.range.last; ++g) {
            ++restored[size_t(g)];
            EXPECT_EQ(SubtaskForKeyGroup(KeyGroup(g), max_p, old_p), t.old_subtask);
            EXPECT_EQ(SubtaskForKeyGroup(KeyGroup(g), max_p, new_p), s);
          }
        }
      }
      for (int count : restored) EXPECT_EQ(count, 1) << old_p << " -> " << new_p;
    }
  }
}

TEST(KeyGroupRedistribution, SameParallelismRestoresFromItself) {
  auto transfers = KeyGroupsToRestore(1, 4, 4, 128);
  ASSERT_EQ(transfers.size(), 1u);
  EXPECT_EQ(transfers[0].old_subtask, 1);
  EXPECT_EQ(transfers[0].range, KeyGroupRange::ForSubtask(1, 128, 4));
}

}  // namespace
}  // namespace brook
