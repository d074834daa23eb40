// Snapshot and restore of every kind of operator state through the checkpoint storage: keyed
// value/list/map/reducing/aggregating state and keyed timers (both backends, restored at another
// parallelism by key group), operator list state (split and union) and broadcast state, and the
// generator source's split offsets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <unistd.h>

#include "brook/checkpoint/checkpoint_storage.h"
#include "brook/operators/collection_source.h"
#include "brook/operators/file_source.h"
#include "brook/operators/generator_source.h"
#include "brook/operators/keyed_support.h"
#include "brook/runtime/operator_state_registry.h"
#include "brook_test/collecting_output.h"

namespace brook {
namespace {
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 32;
constexpr int64_t kKeys = 40;

struct TempDir {
  TempDir() : path(fs::temp_directory_path() / ("brook-state-snap-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(counter++))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
  static inline int counter = 0;
};

struct Sum {
  int64_t operator()(int64_t a, int64_t b) const { return a + b; }
};
struct Average {
  using Acc = std::pair<int64_t, int64_t>;
  using Out = double;
  Acc CreateAccumulator() const { return {0, 0}; }
  void Add(const int64_t& v, Acc& acc) const { acc.first += v, acc.second += 1; }
  Out GetResult(const Acc& acc) const { return acc.second ? double(acc.first) / acc.second : 0; }
  void Merge(const Acc& from, Acc& into) const { into.first += from.first, into.second += from.second; }
};

const ValueStateDescriptor<int64_t> kValue{"value"};
const ListStateDescriptor<int64_t> kList{"list"};
const MapStateDescriptor<int64_t, std::string> kMap{"map"};
const ReducingStateDescriptor<int64_t, Sum> kReducing{"reducing", Sum{}};
const AggregatingStateDescriptor<int64_t, Average> kAggregating{"aggregating", Average{}};

// One keyed operator subtask: its registry, context and KeyedSupport.
struct KeyedSubtask {
  // `declare` runs after Open and before the restored entries go in, as an operator's Open()
  // declaring its states after opening its KeyedSupport.
  KeyedSubtask(StateBackendKind kind, const fs::path& dir, int subtask, int parallelism,
               const OperatorSnapshot* restore,
               const std::function<void(KeyedStateBackend<int64_t>&)>& declare = nullptr)
      : registry("counter") {
    context.operator_name = "counter";
    context.subtask_index = subtask;
    context.parallelism = parallelism;
    context.max_parallelism = kMaxParallelism;
    context.timers = &timers;
    context.state_backend.kind = kind;
    context.state_backend.lmdb_directory = dir.string();
    context.state_backend.lmdb_map_size = size_t{1} << 28;
    context.state_scope = "op-" + std::to_string(subtask) + "-of-" + std::to_string(parallelism) +
                          (restore ? "-restored" : "");
    context.state_registry = &registry;
    if (restore) registry.SetRestoredState(CheckpointId(1), *restore);
    support.Open(context, [this](const auto& timer, TimeDomain domain) {
      if (domain == TimeDomain::kEventTime) fired.insert(timer.key);
    });
    if (declare) declare(support.backend());
    registry.InitializeComponents();  // as the task does after Open()
  }
  ~KeyedSubtask() { support.Close(); }

  OperatorSnapshot Snapshot() {
    OperatorSnapshot out;
    out.operator_id = "counter";
    CheckpointBarrier barrier{CheckpointId(1), 0};
    SnapshotContext sc(barrier, registry.operator_state(), out.keyed);
    registry.SnapshotComponents(sc);
    out.operator_state = registry.operator_state().Snapshot();
    return out;
  }

  OperatorStateRegistry registry;
  RuntimeContext context;
  ProcessingTimeService timers;
  KeyedSupport<int64_t> support;
  std::set<int64_t> fired;
};

class KeyedStateSnapshot : public ::testing::TestWithParam<StateBackendKind> {};

TEST_P(KeyedStateSnapshot, EveryStateKindAndTimerRestoresIntoTheSubtaskOwningItsKeyGroup) {
  TempDir dir;
  CheckpointStorage storage({(dir.path / "checkpoints").string()});
  {
    KeyedSubtask original(GetParam(), dir.path, 0, 1, nullptr);
    auto& b = original.support.backend();
    for (int64_t k = 0; k < kKeys; ++k) {
      original.support.SetCurrentKey(k);
      b.GetState(kValue).update(k * 2);
      b.GetListState(kList).addAll({k, k + 1});
      b.GetMapState(kMap).put(k, "v" + std::to_string(k));
      b.GetReducingState(kReducing).add(k);
      b.GetReducingState(kReducing).add(k);
      b.GetAggregatingState(kAggregating).add(k);
      b.GetAggregatingState(kAggregating).add(k + 2);
      original.support.timers().RegisterEventTimeTimer(k, 0, 1000 + k);
    }
    TaskSnapshot snapshot;
    snapshot.checkpoint_id = CheckpointId(1);
    snapshot.operators.push_back(original.Snapshot());
    storage.WriteTaskSnapshot("job", {"v", 0, 1, kMaxParallelism}, snapshot);
    CheckpointMetadata m;
    m.job_id = "job";
    m.checkpoint_id = CheckpointId(1);
    storage.CompleteCheckpoint(m);
  }
  const std::string chk = storage.CheckpointDirectory("job", CheckpointId(1));
  std::set<int64_t> all_fired;
  for (int s = 0; s < 2; ++s) {
    TaskSnapshot mine = storage.LoadTaskState(chk, {"v", s, 2, kMaxParallelism});
    ASSERT_EQ(mine.operators.size(), 1u);
    KeyedSubtask restored(GetParam(), dir.path, s, 2, &mine.operators[0]);
    auto& b = restored.support.backend();
    const KeyGroupRange range = KeyGroupRange::ForSubtask(s, kMaxParallelism, 2);
    for (int64_t k = 0; k < kKeys; ++k) {
      if (!range.Contains(KeyGroupFor(k, kMaxParallelism))) continue;
      restored.support.SetCurrentKey(k);
      EXPECT_EQ(b.GetState(kValue).value(), k * 2);
      EXPECT_EQ(b.GetListState(kList).get(), (std::vector<int64_t>{k, k + 1}));
      EXPECT_EQ(b.GetMapState(kMap).get(k), "v" + std::to_string(k));
      EXPECT_EQ(b.GetReducingState(kReducing).get(), 2 * k);
      EXPECT_EQ(b.GetAggregatingState(kAggregating).get(), double(k + 1));
    }
    restored.support.AdvanceWatermark(1000 + kKeys);
    for (int64_t k : restored.fired) {
      EXPECT_TRUE(range.Contains(KeyGroupFor(k, kMaxParallelism))) << "timer of a foreign key";
      EXPECT_TRUE(all_fired.insert(k).second) << "timer restored twice";
    }
  }
  EXPECT_EQ(all_fired.size(), size_t(kKeys));
}

// A restore reads keyed entries out of the checkpoint as it fills the backend (LoadTaskState
// holds none of them), and a heap backend puts the entries of states declared in Open() straight
// into their tables: nothing is held twice.
TEST(KeyedStateRestore, StreamsFromStorageStraightIntoStatesDeclaredInOpen) {
  TempDir dir;
  CheckpointStorage storage({(dir.path / "checkpoints").string()});
  constexpr int64_t kMany = 2000;
  {
    KeyedSubtask original(StateBackendKind::kMemory, dir.path, 0, 1, nullptr);
    auto& value = original.support.backend().GetState(kValue);
    for (int64_t k = 0; k < kMany; ++k) {
      original.support.SetCurrentKey(k);
      value.update(k * 3);
      original.support.timers().RegisterEventTimeTimer(k, 0, 5000 - k);
    }
    TaskSnapshot snapshot;
    snapshot.checkpoint_id = CheckpointId(1);
    snapshot.operators.push_back(original.Snapshot());
    storage.WriteTaskSnapshot("job", {"v", 0, 1, kMaxParallelism}, snapshot);
    CheckpointMetadata m;
    m.job_id = "job";
    m.checkpoint_id = CheckpointId(1);
    storage.CompleteCheckpoint(m);
  }
  const std::string chk = storage.CheckpointDirectory("job", CheckpointId(1));
  for (bool declared_in_open : {true, false}) {
    TaskSnapshot mine = storage.LoadTaskState(chk, {"v", 0, 1, kMaxParallelism});
    ASSERT_EQ(mine.operators.size(), 1u);
    EXPECT_TRUE(mine.operators[0].keyed.empty());
    ASSERT_NE(mine.operators[0].keyed_view, nullptr);
    KeyedSubtask restored(StateBackendKind::kMemory, dir.path, 0, 1, &mine.operators[0],
                          [&](KeyedStateBackend<int64_t>& b) {
                            if (declared_in_open) b.GetState(kValue);
                          });
    auto& heap = dynamic_cast<HeapKeyedStateBackend<int64_t>&>(restored.support.backend());
    EXPECT_EQ(heap.undeclared_entries(), declared_in_open ? 0u : size_t(kMany));
    auto& value = heap.GetState(kValue);
    EXPECT_EQ(heap.undeclared_entries(), 0u);
    for (int64_t k = 0; k < kMany; ++k) {
      restored.support.SetCurrentKey(k);
      ASSERT_EQ(value.value(), k * 3) << k;
    }
    EXPECT_EQ(restored.support.timers().num_event_timers(), size_t(kMany));
    // Timer k is due at 5000 - k: the keys from kMany / 2 up are due at 5000 - kMany / 2.
    restored.support.AdvanceWatermark(5000 - kMany / 2);
    EXPECT_EQ(restored.fired.size(), size_t(kMany / 2));
    EXPECT_EQ(*restored.fired.begin(), kMany / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedStateSnapshot,
                         ::testing::Values(StateBackendKind::kMemory, StateBackendKind::kLmdb),
                         [](const auto& info) {
                           return info.param == StateBackendKind::kMemory ? "Memory" : "Lmdb";
                         });

TEST(OperatorStateSnapshot, SplitUnionAndBroadcastStateRedistributeOnRescale) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  for (int s = 0; s < 2; ++s) {
    OperatorStateStore store;
    store.GetListState<int64_t>("split").update({s * 10, s * 10 + 1});
    store.GetUnionListState<int64_t>("union").update({100 + s});
    auto& rules = store.GetBroadcastState<std::string, int64_t>("rules");
    rules.put("a", 1);
    rules.put("b", 2);
    TaskSnapshot snapshot;
    snapshot.checkpoint_id = CheckpointId(2);
    snapshot.operators.push_back({"op", {}, store.Snapshot(), nullptr});
    storage.WriteTaskSnapshot("job", {"v", s, 2, kMaxParallelism}, snapshot);
  }
  CheckpointMetadata m;
  m.job_id = "job";
  m.checkpoint_id = CheckpointId(2);
  storage.CompleteCheckpoint(m);
  std::multiset<int64_t> split;
  for (int s = 0; s < 3; ++s) {
    TaskSnapshot mine = storage.LoadTaskState(storage.CheckpointDirectory("job", CheckpointId(2)),
                                              {"v", s, 3, kMaxParallelism});
    OperatorStateRegistry registry("op");
    registry.SetRestoredState(mine.checkpoint_id, mine.operators[0]);
    auto& store = registry.operator_state();
    for (int64_t v : store.GetListState<int64_t>("split").get()) split.insert(v);
    auto u = store.GetUnionListState<int64_t>("union").get();
    std::sort(u.begin(), u.end());
    EXPECT_EQ(u, (std::vector<int64_t>{100, 101}));
    auto& rules = store.GetBroadcastState<std::string, int64_t>("rules");
    EXPECT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules.get("b"), 2);
  }
  EXPECT_EQ(split, (std::multiset<int64_t>{0, 1, 10, 11}));
}

TEST(GeneratorSourceSnapshot, OffsetsRestoreAtAnotherParallelismWithoutLossOrRepeat) {
  auto fn = [](uint64_t i) { return int64_t(i); };
  GeneratorOptions options;
  options.count = 100;
  options.num_splits = 4;
  options.batch_size = 3;
  std::multiset<int64_t> emitted;
  std::vector<std::string> states;
  for (int s = 0; s < 2; ++s) {
    GeneratorSource<int64_t, decltype(fn)> source(fn, options);
    testing::CollectingOutput<int64_t> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("gen");
    RuntimeContext context;
    context.operator_name = "gen";
    context.subtask_index = s;
    context.parallelism = 2;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < 5 * (s + 1); ++i) source.EmitNext();  // subtasks at different positions
    std::vector<StateEntry> keyed;
    CheckpointBarrier barrier{CheckpointId(1), 0};
    SnapshotContext sc(barrier, registry.operator_state(), keyed);
    source.SnapshotState(sc);
    states.push_back(registry.operator_state().Snapshot());
    emitted.insert(out.values.begin(), out.values.end());
    source.Close();
  }
  for (int s = 0; s < 3; ++s) {
    GeneratorSource<int64_t, decltype(fn)> source(fn, options);
    testing::CollectingOutput<int64_t> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("gen");
    OperatorSnapshot restored{"gen", {}, OperatorStateStore::Redistribute(states, s, 3), nullptr};
    registry.SetRestoredState(CheckpointId(1), restored);
    RuntimeContext context;
    context.operator_name = "gen";
    context.subtask_index = s;
    context.parallelism = 3;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < 1000 && source.EmitNext().kind != SourceStatus::Kind::kEndOfInput; ++i) {
    }
    emitted.insert(out.values.begin(), out.values.end());
    source.Close();
  }
  std::multiset<int64_t> expected;
  for (int64_t i = 0; i < 100; ++i) expected.insert(i);
  EXPECT_EQ(emitted, expected);
}

TEST(CollectionSourceSnapshot, PositionsRestoreAtAnotherParallelismWithoutLossOrRepeat) {
  auto elements = std::make_shared<std::vector<int64_t>>();
  for (int64_t i = 0; i < 5000; ++i) elements->push_back(i);
  std::multiset<int64_t> emitted;
  std::vector<std::string> states;
  for (int s = 0; s < 2; ++s) {
    CollectionSource<int64_t> source(elements);
    testing::CollectingOutput<int64_t> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("collection");
    RuntimeContext context;
    context.operator_name = "collection";
    context.subtask_index = s;
    context.parallelism = 2;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < s; ++i) source.EmitNext();  // subtask 0 has emitted nothing, 1 one batch
    std::vector<StateEntry> keyed;
    CheckpointBarrier barrier{CheckpointId(1), 0};
    SnapshotContext sc(barrier, registry.operator_state(), keyed);
    source.SnapshotState(sc);
    states.push_back(registry.operator_state().Snapshot());
    emitted.insert(out.values.begin(), out.values.end());
  }
  EXPECT_EQ(emitted.size(), kDefaultBatchSize);
  for (int s = 0; s < 3; ++s) {
    CollectionSource<int64_t> source(elements);
    testing::CollectingOutput<int64_t> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("collection");
    registry.SetRestoredState(
        CheckpointId(1),
        {"collection", {}, OperatorStateStore::Redistribute(states, s, 3), nullptr});
    RuntimeContext context;
    context.operator_name = "collection";
    context.subtask_index = s;
    context.parallelism = 3;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < 100 && source.EmitNext().kind != SourceStatus::Kind::kEndOfInput; ++i) {
    }
    emitted.insert(out.values.begin(), out.values.end());
  }
  std::multiset<int64_t> expected(elements->begin(), elements->end());
  EXPECT_EQ(emitted, expected);
}

TEST(FileSourceSnapshot, OffsetsRestoreAtAnotherParallelismWithoutLossOrRepeat) {
  TempDir dir;
  fs::create_directories(dir.path);
  std::multiset<std::string> expected;
  for (int f = 0; f < 3; ++f) {
    std::ofstream out(dir.path / ("file-" + std::to_string(f) + ".txt"));
    for (int n = 0; n < 3000; ++n) {
      std::string line = "f" + std::to_string(f) + "-" + std::to_string(n);
      out << line << (n % 2 ? "\r\n" : "\n");
      expected.insert(line);
    }
  }
  std::multiset<std::string> emitted;
  std::vector<std::string> states;
  for (int s = 0; s < 2; ++s) {  // subtask 0 reads files 0 and 2, subtask 1 file 1
    FileSource source(dir.path.string());
    testing::CollectingOutput<std::string> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("files");
    RuntimeContext context;
    context.operator_name = "files";
    context.subtask_index = s;
    context.parallelism = 2;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < (s == 0 ? 4 : 1); ++i) source.EmitNext();  // 0: into its second file
    std::vector<StateEntry> keyed;
    CheckpointBarrier barrier{CheckpointId(1), 0};
    SnapshotContext sc(barrier, registry.operator_state(), keyed);
    source.SnapshotState(sc);
    states.push_back(registry.operator_state().Snapshot());
    emitted.insert(out.values.begin(), out.values.end());
    source.Close();
  }
  for (int s = 0; s < 3; ++s) {
    FileSource source(dir.path.string());
    testing::CollectingOutput<std::string> out;
    source.SetMainOutput(&out);
    OperatorStateRegistry registry("files");
    registry.SetRestoredState(
        CheckpointId(1), {"files", {}, OperatorStateStore::Redistribute(states, s, 3), nullptr});
    RuntimeContext context;
    context.operator_name = "files";
    context.subtask_index = s;
    context.parallelism = 3;
    source.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    source.InitializeState(init);
    for (int i = 0; i < 100 && source.EmitNext().kind != SourceStatus::Kind::kEndOfInput; ++i) {
    }
    emitted.insert(out.values.begin(), out.values.end());
    source.Close();
  }
  EXPECT_EQ(emitted, expected);
}

}  // namespace
}  // namespace brook
