// CheckpointStorage: task snapshots written and read back, at the same and at other
// parallelism (key groups and operator state redistributed), metadata, retention and cleanup,
// savepoints, and clear errors for what is not a completed checkpoint.
#include "brook/checkpoint/checkpoint_storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/operator_state.h"

namespace brook {
namespace {
namespace fs = std::filesystem;

constexpr int kMaxParallelism = 16;

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() /
           ("brook-ckpt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
  static inline int counter = 0;
};

SubtaskLocation Location(int subtask, int parallelism) {
  return SubtaskLocation{"vertex-1", subtask, parallelism, kMaxParallelism};
}

// Subtask `s` of 2 holds one entry per key group it owns (value = group) and a split list state
// with two elements "s-a", "s-b".
TaskSnapshot MakeSnapshot(int64_t id, int s) {
  TaskSnapshot snapshot;
  snapshot.checkpoint_id = CheckpointId(id);
  snapshot.timestamp = 1000 + id;
  OperatorSnapshot op;
  op.operator_id = "counter-uid";
  KeyGroupRange range = KeyGroupRange::ForSubtask(s, kMaxParallelism, 2);
  for (int32_t g = range.first; g <= range.last; ++g)
    op.keyed.push_back(StateEntry{g, "count", "key" + std::to_string(g), std::to_string(g * 10)});
  OperatorStateStore store;
  store.GetListState<std::string>("buffer").update(
      {std::to_string(s) + "-a", std::to_string(s) + "-b"});
  op.operator_state = store.Snapshot();
  snapshot.operators.push_back(op);
  return snapshot;
}

// A restored operator snapshot with its keyed view read into `keyed` (views are not compared).
OperatorSnapshot Materialized(const OperatorSnapshot& restored) {
  OperatorSnapshot out = restored;
  out.keyed = restored.AllKeyedEntries();
  out.keyed_view.reset();
  return out;
}

CheckpointMetadata Complete(CheckpointStorage& storage, const std::string& job, int64_t id) {
  CheckpointMetadata m;
  m.job_id = job;
  m.checkpoint_id = CheckpointId(id);
  m.trigger_time = 1000 + id;
  m.completion_time = 2000 + id;
  m.tasks.push_back({"count (1/2)", "vertex-1", 0, "h0", 10, 1, 2, 3});
  m.tasks.push_back({"count (2/2)", "vertex-1", 1, "h1", 20, 4, 5, 6});
  storage.CompleteCheckpoint(m);
  return m;
}

void WriteCheckpoint(CheckpointStorage& storage, const std::string& job, int64_t id) {
  for (int s = 0; s < 2; ++s) storage.WriteTaskSnapshot(job, Location(s, 2), MakeSnapshot(id, s));
}

std::vector<std::string> ListState(const std::string& bytes) {
  OperatorStateStore store;
  store.Restore(bytes);
  return store.GetListState<std::string>("buffer").get();
}

TEST(CheckpointStorage, RestoresEachSubtaskItsOwnStateAtTheSameParallelism) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  auto writer = storage.CreateWriter("job-a", Location(1, 2));
  EXPECT_EQ(writer->Write(MakeSnapshot(7, 1)),
            storage.CheckpointDirectory("job-a", CheckpointId(7)) + "#vertex-1#1");
  storage.WriteTaskSnapshot("job-a", Location(0, 2), MakeSnapshot(7, 0));
  CheckpointMetadata m = Complete(storage, "job-a", 7);

  const std::string chk = storage.CheckpointDirectory("job-a", CheckpointId(7));
  EXPECT_EQ(storage.ReadMetadata(chk), m);
  for (int s = 0; s < 2; ++s) {
    TaskSnapshot restored = storage.LoadTaskState(chk, Location(s, 2));
    TaskSnapshot original = MakeSnapshot(7, s);
    EXPECT_EQ(restored.checkpoint_id, CheckpointId(7));
    ASSERT_EQ(restored.operators.size(), 1u);
    EXPECT_EQ(Materialized(restored.operators[0]), original.operators[0]);
  }
}

// A snapshot larger than a write batch (tens of MiB) is committed in several transactions and
// restores whole; one whose view fails midway leaves no task record, so it restores as absent.
TEST(CheckpointStorage, ASnapshotLargerThanAWriteBatchRestoresWhole) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  const std::string megabyte(size_t{1} << 20, 'x');
  std::vector<StateEntry> entries;
  for (int32_t g = 0; g < kMaxParallelism; ++g)
    for (int i = 0; i < 6; ++i)  // 96 MiB in all
      entries.push_back(StateEntry{g, "blob", "k" + std::to_string(g) + "-" + std::to_string(i),
                                   megabyte + std::to_string(i)});
  TaskSnapshot snapshot;
  snapshot.checkpoint_id = CheckpointId(1);
  OperatorSnapshot op;
  op.operator_id = "blobs";
  op.keyed_view = std::make_shared<CopiedKeyedStateView>(entries);
  snapshot.operators.push_back(op);
  storage.WriteTaskSnapshot("job", Location(0, 1), snapshot);

  // The view of checkpoint 2 throws after most of its entries.
  class FailingView final : public KeyedStateView {
   public:
    explicit FailingView(const std::vector<StateEntry>& entries) : entries_(entries) {}

   protected:
    void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override {
      for (size_t i = 0; i < entries_.size(); ++i) {
        if (i == entries_.size() - 3) throw std::runtime_error("cannot read the state");
        sink(entries_[i]);
      }
    }

   private:
    const std::vector<StateEntry>& entries_;
  };
  snapshot.checkpoint_id = CheckpointId(2);
  snapshot.operators[0].keyed_view = std::make_shared<FailingView>(entries);
  EXPECT_THROW(storage.WriteTaskSnapshot("job", Location(0, 1), snapshot), std::runtime_error);

  for (int64_t id : {1, 2}) {
    CheckpointMetadata m;
    m.job_id = "job";
    m.checkpoint_id = CheckpointId(id);
    storage.CompleteCheckpoint(m);
  }
  TaskSnapshot restored =
      storage.LoadTaskState(storage.CheckpointDirectory("job", CheckpointId(1)), Location(0, 1));
  ASSERT_EQ(restored.operators.size(), 1u);
  const std::vector<StateEntry> all = restored.operators[0].AllKeyedEntries();
  ASSERT_EQ(all.size(), entries.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].key_group, entries[i].key_group);
    EXPECT_EQ(all[i].key, entries[i].key);
    EXPECT_EQ(all[i].value, entries[i].value);
  }
  TaskSnapshot failed =
      storage.LoadTaskState(storage.CheckpointDirectory("job", CheckpointId(2)), Location(0, 1));
  EXPECT_TRUE(failed.operators.empty());
}

TEST(CheckpointStorage, RedistributesKeyGroupsAndOperatorStateOnRescale) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  WriteCheckpoint(storage, "job", 3);
  Complete(storage, "job", 3);
  const std::string chk = storage.CheckpointDirectory("job", CheckpointId(3));
  for (int p : {1, 3}) {
    std::set<int32_t> groups;
    std::multiset<std::string> elements;
    for (int s = 0; s < p; ++s) {
      TaskSnapshot restored = storage.LoadTaskState(chk, Location(s, p));
      ASSERT_EQ(restored.operators.size(), 1u);
      KeyGroupRange mine = KeyGroupRange::ForSubtask(s, kMaxParallelism, p);
      for (const StateEntry& e : restored.operators[0].AllKeyedEntries()) {
        EXPECT_TRUE(mine.Contains(KeyGroup(e.key_group))) << "p=" << p << " s=" << s;
        EXPECT_EQ(e.value, std::to_string(e.key_group * 10));
        EXPECT_TRUE(groups.insert(e.key_group).second) << "key group restored twice";
      }
      for (auto& x : ListState(restored.operators[0].operator_state)) elements.insert(x);
    }
    EXPECT_EQ(groups.size(), size_t(kMaxParallelism)) << "p=" << p;
    EXPECT_EQ(elements, (std::multiset<std::string>{"0-a", "0-b", "1-a", "1-b"})) << "p=" << p;
  }
}

TEST(CheckpointStorage, KeepsTheLastCompletedCheckpointsAndCleansUpTheRest) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string(), size_t{1} << 30, 2});
  WriteCheckpoint(storage, "job", 1);
  Complete(storage, "job", 1);
  WriteCheckpoint(storage, "job", 2);  // never completes (timed out, say)
  WriteCheckpoint(storage, "job", 3);
  Complete(storage, "job", 3);
  EXPECT_EQ(storage.CompletedCheckpoints("job"), (std::vector<CheckpointId>{CheckpointId(1), CheckpointId(3)}));
  EXPECT_FALSE(fs::exists(storage.CheckpointDirectory("job", CheckpointId(2))));
  WriteCheckpoint(storage, "job", 4);
  Complete(storage, "job", 4);
  WriteCheckpoint(storage, "job", 5);  // in progress: newer than the newest completed, kept
  EXPECT_EQ(storage.CompletedCheckpoints("job"), (std::vector<CheckpointId>{CheckpointId(3), CheckpointId(4)}));
  EXPECT_FALSE(fs::exists(storage.CheckpointDirectory("job", CheckpointId(1))));
  EXPECT_TRUE(fs::exists(storage.CheckpointDirectory("job", CheckpointId(5))));
  storage.Discard("job", CheckpointId(5));
  EXPECT_FALSE(fs::exists(storage.CheckpointDirectory("job", CheckpointId(5))));
  EXPECT_TRUE(storage.CompletedCheckpoints("other-job").empty());
}

TEST(CheckpointStorage, SavepointOutlivesTheJobsCheckpointsAndRestoresAtAnotherParallelism) {
  TempDir dir;
  TempDir savepoint;
  {
    CheckpointStorage storage({dir.path.string()});
    WriteCheckpoint(storage, "job", 9);
    Complete(storage, "job", 9);
    storage.WriteSavepoint("job", CheckpointId(9), savepoint.path.string());
    EXPECT_THROW(storage.WriteSavepoint("job", CheckpointId(9), savepoint.path.string()),
                 std::runtime_error);
    storage.Discard("job", CheckpointId(9));
  }
  CheckpointStorage fresh({dir.path.string()});
  auto metadata = fresh.ReadMetadata(savepoint.path.string());
  ASSERT_TRUE(metadata.has_value());
  EXPECT_EQ(metadata->checkpoint_id, CheckpointId(9));
  size_t entries = 0;
  for (int s = 0; s < 3; ++s)
    entries += fresh.LoadTaskState(savepoint.path.string(), Location(s, 3)).operators[0].AllKeyedEntries().size();
  EXPECT_EQ(entries, size_t(kMaxParallelism));
}

TEST(CheckpointStorage, RefusesWhatIsNotACompletedCheckpoint) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  EXPECT_THROW(storage.LoadTaskState((dir.path / "nothing").string(), Location(0, 1)),
               std::runtime_error);
  WriteCheckpoint(storage, "job", 1);
  const std::string chk = storage.CheckpointDirectory("job", CheckpointId(1));
  EXPECT_THROW(storage.LoadTaskState(chk, Location(0, 2)), std::runtime_error);  // incomplete
  EXPECT_THROW(storage.WriteSavepoint("job", CheckpointId(1), (dir.path / "sp").string()),
               std::runtime_error);
  Complete(storage, "job", 1);
  SubtaskLocation other_max = Location(0, 2);
  other_max.max_parallelism = 32;
  EXPECT_THROW(storage.LoadTaskState(chk, other_max), std::runtime_error);
  // A vertex the checkpoint does not know starts empty.
  SubtaskLocation new_vertex{"vertex-new", 0, 1, kMaxParallelism};
  EXPECT_TRUE(storage.LoadTaskState(chk, new_vertex).operators.empty());
}

TEST(CheckpointStorage, ChannelStateRestoresOnlyAtTheSameParallelism) {
  TempDir dir;
  CheckpointStorage storage({dir.path.string()});
  for (int s = 0; s < 2; ++s) {
    TaskSnapshot snapshot = MakeSnapshot(1, s);
    snapshot.channel_state = {{"in-flight-" + std::to_string(s)}, {}};
    storage.WriteTaskSnapshot("job", Location(s, 2), snapshot);
  }
  Complete(storage, "job", 1);
  const std::string chk = storage.CheckpointDirectory("job", CheckpointId(1));
  EXPECT_EQ(storage.LoadTaskState(chk, Location(1, 2)).channel_state,
            (ChannelState{{"in-flight-1"}, {}}));
  EXPECT_THROW(storage.LoadTaskState(chk, Location(0, 3)), std::runtime_error);
}

TEST(CheckpointStorage, StoragesInOneProcessShareTheDirectory) {
  // A MiniCluster: the task managers write, the job manager completes, discards and restores.
  TempDir dir;
  CheckpointStorage task_manager({dir.path.string()});
  CheckpointStorage job_manager({dir.path.string(), size_t{1} << 30, 1});
  auto writer = task_manager.CreateWriter("job", Location(0, 2));
  for (int64_t id = 1; id <= 3; ++id) {
    writer->Write(MakeSnapshot(id, 0));
    task_manager.WriteTaskSnapshot("job", Location(1, 2), MakeSnapshot(id, 1));
    Complete(job_manager, "job", id);
    EXPECT_EQ(Materialized(task_manager
                               .LoadTaskState(job_manager.CheckpointDirectory("job", CheckpointId(id)),
                                              Location(1, 2))
                               .operators[0]),
              MakeSnapshot(id, 1).operators[0]);
  }
  EXPECT_EQ(task_manager.CompletedCheckpoints("job"), (std::vector<CheckpointId>{CheckpointId(3)}));
}

TEST(CheckpointMetadata, RoundTripsAndRejectsCorruptBytes) {
  CheckpointMetadata m;
  m.job_id = "j";
  m.checkpoint_id = CheckpointId(4);
  m.kind = CheckpointKind::kSavepoint;
  m.tasks.push_back({"t (1/1)", "v", 0, "handle", 123, 1, 2, 3});
  EXPECT_EQ(CheckpointMetadata::Decode(m.Encode()), m);
  EXPECT_EQ(m.TotalSize(), 123u);
  std::string bytes = m.Encode();
  EXPECT_THROW(CheckpointMetadata::Decode(bytes.substr(0, bytes.size() / 2)), SerdeError);
  EXPECT_THROW(CheckpointMetadata::Decode(""), SerdeError);
}

TEST(TaskSnapshot, EncodingRoundTrips) {
  TaskSnapshot s = MakeSnapshot(5, 1);
  s.channel_state = {{"a", "b"}, {}};
  EXPECT_EQ(DecodeTaskSnapshot(EncodeTaskSnapshot(s)), s);
  EXPECT_THROW(DecodeTaskSnapshot("\x07garbage"), SerdeError);
}

}  // namespace
}  // namespace brook
