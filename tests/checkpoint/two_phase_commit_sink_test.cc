// The exactly-once file sink on the two-phase-commit base: nothing is visible before the
// checkpoint completes, pre-committed parts survive a crash and are committed on recovery, the
// transaction open at the snapshot is aborted, aborted checkpoints commit with the next one.
#include "brook/operators/exactly_once_file_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

#include "brook/runtime/operator_state_registry.h"

namespace brook {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  TempDir() : path(fs::temp_directory_path() / ("brook-2pc-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(counter++))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
  static inline int counter = 0;
};

// Lines of the committed part files (sorted), and how many files are still in progress.
std::vector<std::string> CommittedLines(const fs::path& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string()[0] == '.') continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}
int InProgressFiles(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    n += entry.path().filename().string()[0] == '.';
  return n;
}

// A sink subtask with its state registry, driven the way its task drives it.
struct SinkSubtask {
  SinkSubtask(const fs::path& dir, const OperatorSnapshot* restore, CheckpointId from = CheckpointId(0))
      : sink(dir.string()), registry("sink") {
    context.operator_name = "sink";
    context.state_registry = &registry;
    if (restore) registry.SetRestoredState(from, *restore);
    sink.Open(context);
    InitializationContext init = registry.MakeInitializationContext();
    sink.InitializeState(init);
  }
  void Write(std::vector<int64_t> values) {
    RecordBatch<int64_t> batch;
    for (int64_t v : values) batch.push(v, 0);
    sink.ProcessBatch(batch);
  }
  OperatorSnapshot Checkpoint(int64_t id) {
    OperatorSnapshot out{"sink", {}, {}, nullptr};
    CheckpointBarrier barrier{CheckpointId(id), 0};
    SnapshotContext sc(barrier, registry.operator_state(), out.keyed);
    sink.SnapshotState(sc);
    out.operator_state = registry.operator_state().Snapshot();
    return out;
  }

  ExactlyOnceFileSink<int64_t> sink;
  OperatorStateRegistry registry;
  RuntimeContext context;
};

TEST(ExactlyOnceFileSink, RecordsBecomeVisibleOnlyWhenTheirCheckpointCompletes) {
  TempDir dir;
  SinkSubtask s(dir.path, nullptr);
  s.Write({1, 2});
  s.Checkpoint(1);
  s.Write({3});
  EXPECT_TRUE(CommittedLines(dir.path).empty());
  s.sink.NotifyCheckpointComplete(CheckpointId(1));
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1", "2"}));
  s.Checkpoint(2);
  s.sink.NotifyCheckpointAborted(CheckpointId(2));  // stays pending
  s.Write({4});
  s.Checkpoint(3);
  EXPECT_EQ(s.sink.num_pending(), 2u);
  s.sink.NotifyCheckpointComplete(CheckpointId(3));  // commits 2's and 3's parts
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1", "2", "3", "4"}));
  s.Write({5});
  s.sink.Finish();  // end of input commits the rest
  s.sink.Close();
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(InProgressFiles(dir.path), 0);
}

TEST(ExactlyOnceFileSink, RecoveryCommitsPreCommittedPartsAndAbortsTheOpenOne) {
  TempDir dir;
  OperatorSnapshot at_2;
  {
    SinkSubtask crashed(dir.path, nullptr);
    crashed.Write({1});
    crashed.Checkpoint(1);
    crashed.sink.NotifyCheckpointComplete(CheckpointId(1));
    crashed.Write({2});
    at_2 = crashed.Checkpoint(2);  // completes, but the notification never arrives
    crashed.Write({3});            // after checkpoint 2: replayed after recovery
    crashed.Checkpoint(3);         // pre-committed, never completes
    crashed.Write({4});
    crashed.sink.Close();  // the crash: the open transaction is aborted, pending ones remain
  }
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1"}));
  SinkSubtask recovered(dir.path, &at_2, CheckpointId(2));
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1", "2"}));
  recovered.Write({3, 4});  // the source replays from checkpoint 2
  recovered.sink.Finish();
  recovered.sink.Close();
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(InProgressFiles(dir.path), 0) << "the part of checkpoint 3 was aborted on recovery";
}

TEST(ExactlyOnceFileSink, RecoveringTwiceFromTheSameCheckpointCommitsOnce) {
  TempDir dir;
  OperatorSnapshot at_1;
  {
    SinkSubtask first(dir.path, nullptr);
    first.Write({7});
    at_1 = first.Checkpoint(1);
    first.sink.NotifyCheckpointComplete(CheckpointId(1));
    first.sink.Close();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    SinkSubtask again(dir.path, &at_1, CheckpointId(1));
    again.sink.Close();
  }
  EXPECT_EQ(CommittedLines(dir.path), (std::vector<std::string>{"7"}));
}

}  // namespace
}  // namespace brook
