// A keyed-count job wired from real tasks and operators (generator sources -> key-group
// partitioning -> keyed counter -> exactly-once file sink, parallelism 2), checkpointed into
// LMDB storage by a small coordinator loop, killed (cancelled) after checkpoint 3 with
// checkpoint 4 in flight, then restored from checkpoint 3 into fresh tasks: the committed output
// equals the uninterrupted run's, in aligned and in unaligned mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "brook/checkpoint/checkpoint_storage.h"
#include "brook/operators/exactly_once_file_sink.h"
#include "brook/operators/generator_source.h"
#include "brook/operators/keyed_process_operator.h"
#include "brook/runtime/record_writer.h"
#include "brook/runtime/snapshot_executor.h"
#include "brook/runtime/stream_task.h"

namespace brook {
namespace {
namespace fs = std::filesystem;

constexpr int kParallelism = 2;
constexpr int kMaxParallelism = 16;
constexpr int64_t kRecords = 9000;
constexpr int64_t kKeys = 30;
const std::string kJob = "keyed-count";

using Count = std::pair<int64_t, int64_t>;  // key, count so far

struct KeyOf {
  int64_t operator()(int64_t v) const { return v % kKeys; }
};
struct Generate {
  int64_t operator()(uint64_t i) const { return int64_t(i); }
};
// Emits (key, number of records of the key so far), counted in keyed value state. Slow on
// purpose (the sources are not), so channels are full at every barrier: aligned checkpoints
// really align, and unaligned ones really capture records in flight.
struct CountPerKey {
  void operator()(const int64_t&, KeyedProcessContext<int64_t>& ctx, Collector<Count>& out) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    auto& count = ctx.getState(ValueStateDescriptor<int64_t>{"count"});
    int64_t n = count.value().value_or(0) + 1;
    count.update(n);
    out.collect({ctx.getCurrentKey(), n});
  }
};

// Acks and declines by checkpoint, for the coordinator loop.
class Responder final : public CheckpointResponder {
 public:
  void Acknowledge(const CheckpointAck& ack) override {
    std::lock_guard lock(mutex_);
    acks_[ack.checkpoint_id.value()].push_back(ack);
  }
  void Decline(const std::string& task, CheckpointId id, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    declines_.push_back(task + " declined " + std::to_string(id.value()) + ": " + reason);
  }
  std::vector<CheckpointAck> Acks(int64_t id) {
    std::lock_guard lock(mutex_);
    return acks_[id];
  }
  std::vector<std::string> declines() {
    std::lock_guard lock(mutex_);
    return declines_;
  }

 private:
  std::mutex mutex_;
  std::map<int64_t, std::vector<CheckpointAck>> acks_;
  std::vector<std::string> declines_;
};

// The job's four tasks, wired by hand as the deployment does.
class Job {
 public:
  Job(CheckpointingMode mode, CheckpointStorage& storage, Responder& responder,
      SnapshotExecutor& executor, const fs::path& output, const std::string* restore_from) {
    StreamTaskOptions options;
    options.checkpointing_mode = mode;
    options.buffer_timeout = std::chrono::milliseconds(5);
    for (int c = 0; c < kParallelism * kParallelism; ++c)
      channels_.push_back(std::make_unique<LocalChannel<int64_t>>(8, 64));
    auto channel = [&](int source, int counter) { return channels_[size_t(source * kParallelism + counter)].get(); };

    for (int s = 0; s < kParallelism; ++s) {
      auto task = std::make_unique<StreamTask>("source (" + std::to_string(s + 1) + "/2)", options);
      GeneratorOptions gen;
      gen.count = kRecords;
      gen.num_splits = 8;
      gen.batch_size = 16;
      auto* source = task->AddOperator(
          std::make_unique<GeneratorSource<int64_t, Generate>>(Generate{}, gen), Context("gen", s));
      std::vector<ChannelSender<int64_t>*> senders;
      std::vector<ChannelBase*> bases;
      for (int c = 0; c < kParallelism; ++c) {
        senders.push_back(channel(s, c));
        bases.push_back(channel(s, c));
      }
      WriterOptions wo;
      wo.subtask_index = s;
      wo.max_parallelism = kMaxParallelism;
      wo.batch_size = 16;
      auto* writer = task->AddWriter(std::make_unique<KeyGroupWriter<int64_t, KeyOf>>(senders, wo, KeyOf{}), bases);
      source->SetMainOutput(&writer->AsOutput());
      task->SetInput(std::make_unique<SourceInput>(dynamic_cast<SourceOperatorBase*>(source)), {});
      Wire(*task, storage, responder, executor, "source", s, restore_from);
      tasks_.push_back(std::move(task));
    }
    for (int c = 0; c < kParallelism; ++c) {
      auto task = std::make_unique<StreamTask>("count (" + std::to_string(c + 1) + "/2)", options);
      auto* counter = task->AddOperator(
          std::make_unique<KeyedProcessOperator<int64_t, int64_t, Count, KeyOf, CountPerKey>>(KeyOf{}, CountPerKey{}),
          Context("count", c));
      auto* sink = task->AddOperator(std::make_unique<ExactlyOnceFileSink<Count>>(output.string()),
                                     Context("sink", c));
      counter->SetMainOutput(task->AddOutput(
          std::make_unique<ChainingOutput<Count>>(dynamic_cast<OneInputOperator<Count>*>(sink))));
      auto* head = task->AddOutput(
          std::make_unique<ChainingOutput<int64_t>>(dynamic_cast<OneInputOperator<int64_t>*>(counter)));
      std::vector<ChannelReceiver<int64_t>*> receivers;
      std::vector<ChannelBase*> bases;
      for (int s = 0; s < kParallelism; ++s) {
        receivers.push_back(channel(s, c));
        bases.push_back(channel(s, c));
      }
      task->SetInput(std::make_unique<InputGate<int64_t>>(receivers, dynamic_cast<Output<int64_t>*>(head),
                                                          &task->metrics()),
                     bases);
      Wire(*task, storage, responder, executor, "count", c, restore_from);
      tasks_.push_back(std::move(task));
    }
  }

  ~Job() {
    Cancel();
    Join();
  }

  void Start() {
    for (auto& task : tasks_) {
      threads_.emplace_back([this, t = task.get()] {
        try {
          t->Run();
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex_);
          failures_.push_back(t->name() + ": " + e.what());
        }
      });
    }
  }
  void Cancel() {
    for (auto& task : tasks_) task->Cancel();
  }
  void Join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

  // Triggers checkpoint `id` at the sources, waits for every task's ack, completes it in storage
  // and notifies every task: the job manager's coordinator, reduced to its core.
  // The sources are triggered a few milliseconds apart, as RPCs to different task managers
  // are: barriers then reach each counter at different times, with records in flight between.
  bool Trigger(int64_t id, Timestamp now) {
    for (int s = 0; s < kParallelism; ++s) {
      if (s > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!tasks_[size_t(s)]->TriggerCheckpoint(CheckpointId(id), now)) return false;
    }
    return true;
  }

  bool Checkpoint(int64_t id, CheckpointStorage& storage, Responder& responder) {
    Timestamp now = ProcessingTimeService::Now();
    if (!Trigger(id, now)) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (responder.Acks(id).size() < tasks_.size()) {
      if (std::chrono::steady_clock::now() > deadline || !responder.declines().empty()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CheckpointMetadata metadata;
    metadata.job_id = kJob;
    metadata.checkpoint_id = CheckpointId(id);
    metadata.trigger_time = now;
    metadata.completion_time = ProcessingTimeService::Now();
    for (const CheckpointAck& ack : responder.Acks(id))
      metadata.tasks.push_back({ack.task_name, "", 0, ack.state_handle, ack.state_size, ack.sync_ns,
                                ack.async_ns, ack.alignment_ns});
    storage.CompleteCheckpoint(metadata);
    for (auto& task : tasks_) task->NotifyCheckpointComplete(CheckpointId(id));
    return true;
  }

 private:
  static RuntimeContext Context(const std::string& name, int subtask) {
    RuntimeContext context;
    context.job_name = kJob;
    context.operator_name = name;
    context.operator_id = name;
    context.subtask_index = subtask;
    context.parallelism = kParallelism;
    context.max_parallelism = kMaxParallelism;
    context.state_scope = name + "-" + std::to_string(subtask);
    return context;
  }

  void Wire(StreamTask& task, CheckpointStorage& storage, Responder& responder,
            SnapshotExecutor& executor, const std::string& vertex, int subtask,
            const std::string* restore_from) {
    SubtaskLocation location{vertex, subtask, kParallelism, kMaxParallelism};
    task.SetCheckpointing({storage.CreateWriter(kJob, location), &responder, &executor, nullptr});
    if (restore_from) task.SetRestoreState(storage.LoadTaskState(*restore_from, location));
  }

  std::vector<std::unique_ptr<LocalChannel<int64_t>>> channels_;
  std::vector<std::unique_ptr<StreamTask>> tasks_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::vector<std::string> failures_;
};

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

std::vector<std::string> UninterruptedOutput() {
  std::vector<std::string> lines;
  for (int64_t key = 0; key < kKeys; ++key)
    for (int64_t n = 1; n <= kRecords / kKeys; ++n) lines.push_back(ToText(Count{key, n}));
  std::sort(lines.begin(), lines.end());
  return lines;
}

class ExactlyOncePipeline : public ::testing::TestWithParam<CheckpointingMode> {};

TEST_P(ExactlyOncePipeline, KilledAfterCheckpointAndRestoredProducesExactlyTheUninterruptedOutput) {
  const fs::path root = fs::temp_directory_path() / ("brook-e2e-" + std::to_string(::getpid()) + "-" +
                                                     ToString(GetParam()));
  fs::remove_all(root);
  const fs::path output = root / "out";
  CheckpointStorage storage({(root / "checkpoints").string(), size_t{1} << 30, 3});
  SnapshotExecutor executor(2);
  executor.Start();
  Responder responder;
  {
    // About 0.5 s of input per counter: checkpoints 1-3 complete before its end.
    Job job(GetParam(), storage, responder, executor, output, nullptr);
    job.Start();
    for (int64_t id = 1; id <= 3; ++id) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ASSERT_TRUE(job.Checkpoint(id, storage, responder))
          << "checkpoint " << id << " failed; declines: " << responder.declines().size();
    }
    // Checkpoint 4 is triggered and the job dies before it completes.
    ASSERT_TRUE(job.Trigger(4, ProcessingTimeService::Now()));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    job.Cancel();
    job.Join();
    EXPECT_TRUE(job.failures().empty()) << job.failures()[0];
  }
  EXPECT_LT(CommittedLines(output).size(), size_t(kRecords)) << "the kill came too late to matter";
  EXPECT_EQ(storage.CompletedCheckpoints(kJob),
            (std::vector<CheckpointId>{CheckpointId(1), CheckpointId(2), CheckpointId(3)}));

  const std::string from = storage.CheckpointDirectory(kJob, CheckpointId(3));
  size_t in_flight = 0;  // over checkpoints 1-3: how much channel state they captured
  for (int64_t id = 1; id <= 3; ++id)
    for (int c = 0; c < kParallelism; ++c)
      for (const auto& channel :
           storage.LoadTaskState(storage.CheckpointDirectory(kJob, CheckpointId(id)),
                                 {"count", c, kParallelism, kMaxParallelism})
               .channel_state)
        in_flight += channel.size();
  if (GetParam() == CheckpointingMode::kUnaligned) {
    EXPECT_GT(in_flight, 0u) << "no records in flight at the unaligned checkpoint: nothing tested";
  } else {
    EXPECT_EQ(in_flight, 0u);
  }
  {
    Job restored(GetParam(), storage, responder, executor, output, &from);
    restored.Start();
    restored.Join();
    EXPECT_TRUE(restored.failures().empty()) << restored.failures()[0];
  }
  executor.Stop();
  std::vector<std::string> committed = CommittedLines(output);
  std::vector<std::string> expected = UninterruptedOutput();
  EXPECT_EQ(committed.size(), expected.size());
  EXPECT_TRUE(committed == expected) << "lost or duplicated output";
  for (const auto& entry : fs::directory_iterator(output))
    EXPECT_NE(entry.path().filename().string()[0], '.') << "left in progress: " << entry.path();
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Modes, ExactlyOncePipeline,
                         ::testing::Values(CheckpointingMode::kAligned, CheckpointingMode::kUnaligned),
                         [](const auto& info) {
                           return info.param == CheckpointingMode::kAligned ? "Aligned" : "Unaligned";
                         });

}  // namespace
}  // namespace brook
