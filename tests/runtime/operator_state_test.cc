#include "brook/runtime/state/operator_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace brook {
namespace {

// Snapshots of `old_parallelism` subtasks; subtask s holds split elements s*10 .. s*10+count-1
// and union elements 100+s.
std::vector<std::string> OldSnapshots(int old_parallelism, int count) {
  std::vector<std::string> snapshots;
  for (int s = 0; s < old_parallelism; ++s) {
    OperatorStateStore store;
    auto& split = store.GetListState<int64_t>("offsets");
    for (int i = 0; i < count; ++i) split.add(s * 10 + i);
    store.GetUnionListState<int64_t>("partitions").add(100 + s);
    snapshots.push_back(store.Snapshot());
  }
  return snapshots;
}

// What each of `new_parallelism` subtasks restores from `snapshots`, for list `name`.
std::vector<std::vector<int64_t>> Restored(const std::vector<std::string>& snapshots,
                                           int new_parallelism, const std::string& name,
                                           OperatorStateMode mode) {
  std::vector<std::vector<int64_t>> out;
  for (int s = 0; s < new_parallelism; ++s) {
    OperatorStateStore store;
    store.Restore(OperatorStateStore::Redistribute(snapshots, s, new_parallelism));
    out.push_back(store.GetListState<int64_t>(name, mode).get());
  }
  return out;
}

TEST(OperatorState, SplitListStateIsDealtRoundRobinFromTwoToThreeSubtasks) {
  const auto restored = Restored(OldSnapshots(2, 4), 3, "offsets", OperatorStateMode::kSplit);
  // Old elements in subtask order: 0 1 2 3 10 11 12 13.
  EXPECT_EQ(restored[0], (std::vector<int64_t>{0, 3, 12}));
  EXPECT_EQ(restored[1], (std::vector<int64_t>{1, 10, 13}));
  EXPECT_EQ(restored[2], (std::vector<int64_t>{2, 11}));
}

TEST(OperatorState, SplitListStateFromThreeSubtasksToOneGathersEveryElement) {
  const auto restored = Restored(OldSnapshots(3, 2), 1, "offsets", OperatorStateMode::kSplit);
  EXPECT_EQ(restored[0], (std::vector<int64_t>{0, 1, 10, 11, 20, 21}));
}

TEST(OperatorState, UnionListStateGivesEverySubtaskEveryElement) {
  for (auto [from, to] : {std::pair{2, 3}, std::pair{3, 1}}) {
    const auto restored =
        Restored(OldSnapshots(from, 1), to, "partitions", OperatorStateMode::kUnion);
    std::vector<int64_t> all;
    for (int s = 0; s < from; ++s) all.push_back(100 + s);
    for (const auto& subtask : restored) EXPECT_EQ(subtask, all) << from << " -> " << to;
  }
}

TEST(OperatorState, BroadcastStateRestoresTheFullMapOnEverySubtask) {
  std::vector<std::string> snapshots;
  for (int s = 0; s < 3; ++s) {
    OperatorStateStore store;
    auto& rules = store.GetBroadcastState<std::string, int64_t>("rules");
    rules.put("min-price", 10);
    rules.put("max-items", 5);
    rules.put("dropped", 1);
    rules.remove("dropped");
    snapshots.push_back(store.Snapshot());
  }
  for (int new_parallelism : {1, 2, 5}) {
    for (int s = 0; s < new_parallelism; ++s) {
      OperatorStateStore store;
      store.Restore(OperatorStateStore::Redistribute(snapshots, s, new_parallelism));
      auto& rules = store.GetBroadcastState<std::string, int64_t>("rules");
      auto entries = rules.entries();
      EXPECT_EQ((std::map<std::string, int64_t>(entries.begin(), entries.end())),
                (std::map<std::string, int64_t>{{"max-items", 5}, {"min-price", 10}}));
    }
  }
}

TEST(OperatorState, RestoredStatesNotYetDeclaredSurviveTheNextSnapshot) {
  OperatorStateStore first;
  first.GetListState<std::string>("buffer").addAll({"a", "b"});
  first.GetBroadcastState<int64_t, std::string>("names").put(1, "one");
  OperatorStateStore second;
  second.Restore(first.Snapshot());
  OperatorStateStore third;
  third.Restore(second.Snapshot());  // `second` declared nothing
  EXPECT_EQ(third.GetListState<std::string>("buffer").get(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((third.GetBroadcastState<int64_t, std::string>("names").get(1)), "one");
}

TEST(OperatorState, ANameDeclaredWithAnotherTypeOrModeThrows) {
  OperatorStateStore store;
  store.GetListState<int64_t>("x");
  EXPECT_THROW(store.GetListState<std::string>("x"), StateTypeError);
  EXPECT_THROW(store.GetUnionListState<int64_t>("x"), StateTypeError);
  EXPECT_THROW((store.GetBroadcastState<int64_t, int64_t>("x")), StateTypeError);
  EXPECT_THROW(store.GetListState<int64_t>("x").MergeNamespaces(0, {1}), std::logic_error);
}

TEST(OperatorState, CorruptSnapshotBytesAreRejected) {
  OperatorStateStore store;
  EXPECT_THROW(store.Restore("\x05garbage"), SerdeError);
  EXPECT_THROW(OperatorStateStore::Redistribute({"\x01"}, 0, 1), SerdeError);
}

}  // namespace
}  // namespace brook
