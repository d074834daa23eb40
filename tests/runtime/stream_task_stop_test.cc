// Stop with savepoint at the task level (CheckpointKind::kSynchronousSavepoint): a source task
// emits the savepoint's barrier and nothing after it; the downstream task snapshots at the
// barrier and then processes nothing (no records, no timers) until the coordinator decides.
// Completed: the operators are notified first (a two-phase-commit sink commits there), then both
// tasks end with end-of-partition, without Finish(). Aborted: both carry on. With kDrain the
// final watermark reaches the operators before the barrier.
#include "brook/runtime/stream_task.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brook/runtime/record_writer.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

// Emits 0, 1, 2, ... (timestamp = value), ten records a millisecond, without end. Its offset is
// its state; the offset at its latest snapshot is readable from the test thread.
class EndlessSource final : public SourceOperatorBase, WithOutput<int64_t> {
 public:
  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    BindOutput(main_output_base());
  }
  void SnapshotState(SnapshotContext& context) override {
    context.operator_state().GetListState<int64_t>("offset").update({next_});
    offset_at_snapshot.store(next_);
  }
  SourceStatus EmitNext() override {
    RecordBatch<int64_t> batch;
    for (int i = 0; i < 10; ++i, ++next_) batch.push(next_, next_);
    output()->Push(batch);
    return SourceStatus::NothingUntil(ProcessingTimeService::Now() + 1);
  }

  std::atomic<int64_t> offset_at_snapshot{-1};

 private:
  int64_t next_ = 0;
};

// Records what reaches it (records, watermarks, snapshots, notifications, Finish and Close) in
// order, readable from the test thread. At each snapshot it registers a processing-time timer
// due at once, to show whether timers fire while the task is stopping.
class StopProbe final : public OneInputOperator<int64_t> {
 public:
  void ProcessBatch(RecordBatch<int64_t>& batch) override {
    std::lock_guard lock(mutex_);
    for (auto& r : batch.records) values_.push_back(r.value);
  }
  void ProcessWatermark(Watermark watermark) override {
    Log(watermark.timestamp == kMaxWatermark ? "final watermark"
                                             : "watermark " + std::to_string(watermark.timestamp));
  }
  void SnapshotState(SnapshotContext& snapshot) override {
    {
      std::lock_guard lock(mutex_);
      values_at_snapshot_ = values_.size();
    }
    Log("snapshot " + std::to_string(snapshot.checkpoint_id().value()));
    context().timers->RegisterTimer(ProcessingTimeService::Now(), [this](Timestamp) { Log("timer"); });
  }
  void NotifyCheckpointComplete(CheckpointId id) override { Log("complete " + std::to_string(id.value())); }
  void NotifyCheckpointAborted(CheckpointId id) override { Log("aborted " + std::to_string(id.value())); }
  void Finish() override { Log("finish"); }
  void Close() override { Log("close"); }

  size_t num_values() {
    std::lock_guard lock(mutex_);
    return values_.size();
  }
  size_t values_at_snapshot() {
    std::lock_guard lock(mutex_);
    return values_at_snapshot_;
  }
  // The values received are 0, 1, ..., n-1: nothing lost, duplicated or reordered.
  bool ValuesAreAPrefix() {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < values_.size(); ++i)
      if (values_[i] != int64_t(i)) return false;
    return true;
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  void Log(std::string entry) {
    std::lock_guard lock(mutex_);
    log_.push_back(std::move(entry));
  }

  std::mutex mutex_;
  std::vector<int64_t> values_;
  size_t values_at_snapshot_ = 0;
  std::vector<std::string> log_;
};

class CollectingResponder final : public CheckpointResponder {
 public:
  void Acknowledge(const CheckpointAck& ack) override {
    std::lock_guard lock(mutex_);
    acks_.push_back(ack.task_name + " " + std::to_string(ack.checkpoint_id.value()));
  }
  void Decline(const std::string& task, CheckpointId id, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    declines_.push_back(task + " " + std::to_string(id.value()) + ": " + reason);
  }
  size_t num_acks() {
    std::lock_guard lock(mutex_);
    return acks_.size();
  }
  std::vector<std::string> declines() {
    std::lock_guard lock(mutex_);
    return declines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> acks_;
  std::vector<std::string> declines_;
};

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

bool Contains(const std::vector<std::string>& log, const std::string& entry) {
  return std::find(log.begin(), log.end(), entry) != log.end();
}

// source task -> local channel -> probe task; snapshots are taken but not written (the runtime's
// part of a checkpoint ends at the ack).
struct StopPipeline {
  StopPipeline() {
    RuntimeContext source_context;
    source_context.operator_name = "source";
    auto* src = source.AddOperator(std::make_unique<EndlessSource>(), source_context);
    source_operator = dynamic_cast<EndlessSource*>(src);
    auto* writer = source.AddWriter(std::make_unique<ForwardWriter<int64_t>>(
                                        std::vector<ChannelSender<int64_t>*>{&channel}, WriterOptions{}),
                                    {&channel});
    src->SetMainOutput(&writer->AsOutput());
    source.SetInput(std::make_unique<SourceInput>(dynamic_cast<SourceOperatorBase*>(src)), {});
    source.SetCheckpointing({nullptr, &responder, nullptr, nullptr});

    RuntimeContext probe_context;
    probe_context.operator_name = "probe";
    probe = dynamic_cast<StopProbe*>(probe_task.AddOperator(std::make_unique<StopProbe>(), probe_context));
    head = std::make_unique<ChainingOutput<int64_t>>(probe);
    probe_task.SetInput(std::make_unique<InputGate<int64_t>>(std::vector<ChannelReceiver<int64_t>*>{&channel},
                                                             head.get(), &probe_task.metrics()),
                        {&channel});
    probe_task.SetCheckpointing({nullptr, &responder, nullptr, nullptr});
    source_thread = std::thread([this] {
      source.Run();
      source_ended = true;
    });
    probe_thread = std::thread([this] {
      probe_task.Run();
      probe_ended = true;
    });
  }
  ~StopPipeline() {
    source.Cancel();
    probe_task.Cancel();
    source_thread.join();
    probe_thread.join();
  }

  // Stops the source with savepoint `id` and waits until both tasks acknowledged it.
  void TakeSynchronousSavepoint(int64_t id, StopMode stop_mode, size_t acks_before) {
    ASSERT_TRUE(source.TriggerCheckpoint(CheckpointId(id), 1000, CheckpointKind::kSynchronousSavepoint,
                                         stop_mode));
    ASSERT_TRUE(WaitFor([&] { return responder.num_acks() == acks_before + 2; }));
  }

  StreamTask source{"source (1/1)"};
  StreamTask probe_task{"probe (1/1)"};
  LocalChannel<int64_t> channel{4};
  CollectingResponder responder;
  EndlessSource* source_operator = nullptr;
  StopProbe* probe = nullptr;
  std::unique_ptr<ChainingOutput<int64_t>> head;
  std::atomic<bool> source_ended{false}, probe_ended{false};
  std::thread source_thread, probe_thread;
};

TEST(StreamTaskStop, SourcesEmitNothingAfterTheBarrierAndTasksEndOnceTheSavepointCompleted) {
  StopPipeline p;
  ASSERT_TRUE(WaitFor([&] { return p.probe->num_values() >= 200; }));
  p.TakeSynchronousSavepoint(1, StopMode::kNoDrain, 0);

  // Everything the source emitted before its barrier reached the probe before the probe's
  // snapshot, and nothing after it: the tasks are stopping, not running.
  std::this_thread::sleep_for(100ms);
  const int64_t offset = p.source_operator->offset_at_snapshot.load();
  EXPECT_EQ(p.probe->values_at_snapshot(), size_t(offset));
  EXPECT_EQ(p.probe->num_values(), size_t(offset));
  EXPECT_TRUE(p.probe->ValuesAreAPrefix());
  EXPECT_FALSE(p.source_ended || p.probe_ended);
  // A stopping task fires no timer (the probe registered one due at its snapshot).
  EXPECT_FALSE(Contains(p.probe->log(), "timer"));
  // A stopping source declines any further checkpoint: its barrier would follow the savepoint's.
  ASSERT_TRUE(p.source.TriggerCheckpoint(CheckpointId(2), 2000));
  ASSERT_TRUE(WaitFor([&] { return p.responder.declines().size() == 1; }));
  EXPECT_NE(p.responder.declines()[0].find("stopping with savepoint 1"), std::string::npos)
      << p.responder.declines()[0];

  // Completed: notified first (where a two-phase-commit sink commits), then the tasks end; the
  // probe once its input ended, after the source.
  EXPECT_TRUE(p.probe_task.NotifyCheckpointComplete(CheckpointId(1)));
  ASSERT_TRUE(WaitFor([&] { return Contains(p.probe->log(), "complete 1"); }));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(p.probe_ended);
  EXPECT_FALSE(Contains(p.probe->log(), "timer"));
  EXPECT_TRUE(p.source.NotifyCheckpointComplete(CheckpointId(1)));
  ASSERT_TRUE(WaitFor([&] { return p.source_ended && p.probe_ended; }));
  EXPECT_TRUE(p.probe_task.stopped_with_savepoint());
  EXPECT_TRUE(p.source.stopped_with_savepoint());
  // Not finished: the operators' state lives on in the savepoint. No final watermark without
  // drain, and nothing after the snapshot but the notification and Close().
  const auto log = p.probe->log();
  EXPECT_EQ(log, (std::vector<std::string>{"snapshot 1", "complete 1", "close"}));
  EXPECT_EQ(p.probe->num_values(), size_t(offset));
}

TEST(StreamTaskStop, AnAbortedSynchronousSavepointLetsTheTasksCarryOn) {
  StopPipeline p;
  ASSERT_TRUE(WaitFor([&] { return p.probe->num_values() >= 100; }));
  p.TakeSynchronousSavepoint(1, StopMode::kNoDrain, 0);
  const size_t at_snapshot = p.probe->values_at_snapshot();
  EXPECT_TRUE(p.source.NotifyCheckpointAborted(CheckpointId(1)));
  EXPECT_TRUE(p.probe_task.NotifyCheckpointAborted(CheckpointId(1)));
  // Records flow again, the timer held back while stopping fires, and nothing was lost.
  ASSERT_TRUE(WaitFor([&] { return p.probe->num_values() >= at_snapshot + 200; }));
  ASSERT_TRUE(WaitFor([&] { return Contains(p.probe->log(), "timer"); }));
  EXPECT_TRUE(p.probe->ValuesAreAPrefix());
  EXPECT_FALSE(p.source_ended || p.probe_ended);

  // A second stop that completes ends both tasks.
  p.TakeSynchronousSavepoint(2, StopMode::kNoDrain, 2);
  const int64_t offset = p.source_operator->offset_at_snapshot.load();
  EXPECT_TRUE(p.source.NotifyCheckpointComplete(CheckpointId(2)));
  EXPECT_TRUE(p.probe_task.NotifyCheckpointComplete(CheckpointId(2)));
  ASSERT_TRUE(WaitFor([&] { return p.source_ended && p.probe_ended; }));
  EXPECT_EQ(p.probe->num_values(), size_t(offset));
  EXPECT_TRUE(p.probe->ValuesAreAPrefix());
  const auto log = p.probe->log();
  EXPECT_FALSE(Contains(log, "finish"));
  EXPECT_TRUE(Contains(log, "aborted 1"));
  EXPECT_EQ(log.back(), "close");
  EXPECT_EQ(log[log.size() - 2], "complete 2");
}

TEST(StreamTaskStop, DrainEmitsTheFinalWatermarkBeforeTheBarrier) {
  StopPipeline p;
  ASSERT_TRUE(WaitFor([&] { return p.probe->num_values() >= 100; }));
  p.TakeSynchronousSavepoint(1, StopMode::kDrain, 0);
  auto log = p.probe->log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], "final watermark");
  EXPECT_EQ(log[1], "snapshot 1");
  EXPECT_TRUE(p.source.NotifyCheckpointComplete(CheckpointId(1)));
  EXPECT_TRUE(p.probe_task.NotifyCheckpointComplete(CheckpointId(1)));
  ASSERT_TRUE(WaitFor([&] { return p.source_ended && p.probe_ended; }));
  log = p.probe->log();
  EXPECT_EQ(log, (std::vector<std::string>{"final watermark", "snapshot 1", "complete 1", "close"}));
}

}  // namespace
}  // namespace brook
