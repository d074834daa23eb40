// StreamTask checkpoints end to end inside the runtime: a source task triggered through its
// mailbox snapshots its offset and emits the barrier in-band, a downstream task snapshots its
// sum at the barrier, both acknowledge through the responder with their written handles, both
// are notified of completion, and tasks restored from the snapshots finish with the same result
// as an uninterrupted run.
#include "brook/runtime/stream_task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "brook/runtime/record_writer.h"
#include "brook/runtime/snapshot_executor.h"

namespace brook {
namespace {

constexpr int64_t kRecords = 200;

// Emits 0..kRecords-1, one per step. At `checkpoint_at` it asks its own task for checkpoint 1
// and then waits until that checkpoint is complete, so the test can notify a running task.
class CountingSource final : public SourceOperatorBase, WithOutput<int64_t> {
 public:
  CountingSource(StreamTask** task, int64_t checkpoint_at) : task_(task), checkpoint_at_(checkpoint_at) {}

  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    BindOutput(main_output_base());
  }
  void InitializeState(InitializationContext& context) override {
    auto& offsets = context.operator_state().GetListState<int64_t>("offset");
    for (int64_t o : offsets.get()) next_ = o;
    restored_ = context.is_restored();
  }
  void SnapshotState(SnapshotContext& context) override {
    context.operator_state().GetListState<int64_t>("offset").update({next_});
  }
  void NotifyCheckpointComplete(CheckpointId id) override { completed_ = id.value(); }

  SourceStatus EmitNext() override {
    if (next_ >= kRecords) return SourceStatus::End();
    if (!restored_ && next_ == checkpoint_at_ + 1 && completed_ < 1)
      return SourceStatus::NothingUntil(ProcessingTimeService::Now() + 1);
    RecordBatch<int64_t> batch;
    batch.push(next_, next_);
    output()->Push(batch);
    if (!restored_ && next_ == checkpoint_at_) (*task_)->TriggerCheckpoint(CheckpointId(1), 42);
    ++next_;
    return SourceStatus::More();
  }

 private:
  StreamTask** task_;
  int64_t checkpoint_at_;
  int64_t next_ = 0;
  bool restored_ = false;
  int64_t completed_ = 0;
};

// A running sum kept as a component registered with the operator's state registry (as
// KeyedSupport registers its backend), not through the operator's own hooks.
class SumState final : public CheckpointedState {
 public:
  int64_t sum = 0;
  void SnapshotState(SnapshotContext& context) override {
    context.AddKeyedEntry(StateEntry{0, "sum", "", std::to_string(sum)});
  }
  void InitializeState(InitializationContext& context) override {
    context.ForEachKeyedEntry([&](const StateEntry& e) {
      if (e.state_name == "sum") sum = std::stoll(e.value);
    });
  }
};

class SumOperator final : public OneInputOperator<int64_t> {
 public:
  explicit SumOperator(std::atomic<int64_t>* result, std::atomic<int64_t>* completed)
      : result_(result), completed_(completed) {}
  void Open(RuntimeContext& context) override {
    OneInputOperator::Open(context);
    context.state_registry->Register(&state_);
  }
  void ProcessBatch(RecordBatch<int64_t>& batch) override {
    for (auto& r : batch.records) state_.sum += r.value;
  }
  void Finish() override { result_->store(state_.sum); }
  void NotifyCheckpointComplete(CheckpointId id) override { completed_->store(id.value()); }

 private:
  std::atomic<int64_t>* result_;
  std::atomic<int64_t>* completed_;
  SumState state_;
};

// Keeps written snapshots in memory, encoded as storage would.
class MemoryWriter final : public TaskSnapshotWriter {
 public:
  explicit MemoryWriter(std::string name) : name_(std::move(name)) {}
  std::string Write(const TaskSnapshot& snapshot) override {
    std::lock_guard lock(mutex_);
    bytes_ = EncodeTaskSnapshot(snapshot);
    return name_ + "/" + std::to_string(snapshot.checkpoint_id.value());
  }
  TaskSnapshot Read() {
    std::lock_guard lock(mutex_);
    return DecodeTaskSnapshot(bytes_);
  }

 private:
  std::string name_;
  std::mutex mutex_;
  std::string bytes_;
};

class CollectingResponder final : public CheckpointResponder {
 public:
  void Acknowledge(const CheckpointAck& ack) override {
    std::lock_guard lock(mutex_);
    acks.push_back(ack);
  }
  void Decline(const std::string& task, CheckpointId id, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    declines.push_back(task + " " + std::to_string(id.value()) + ": " + reason);
  }
  size_t num_acks() {
    std::lock_guard lock(mutex_);
    return acks.size();
  }
  std::mutex mutex_;
  std::vector<CheckpointAck> acks;
  std::vector<std::string> declines;
};

struct Pipeline {
  Pipeline(std::shared_ptr<MemoryWriter> source_writer, std::shared_ptr<MemoryWriter> sum_writer, CollectingResponder& responder,
           SnapshotExecutor& executor, int64_t checkpoint_at) {
    RuntimeContext source_context;
    source_context.operator_name = "source";
    source_context.operator_id = "source-uid";
    auto* src = source.AddOperator(std::make_unique<CountingSource>(&source_ptr, checkpoint_at),
                                   source_context);
    WriterOptions wo;
    auto* writer = source.AddWriter(
        std::make_unique<ForwardWriter<int64_t>>(std::vector<ChannelSender<int64_t>*>{&channel}, wo),
        {&channel});
    src->SetMainOutput(&writer->AsOutput());
    source.SetInput(std::make_unique<SourceInput>(dynamic_cast<SourceOperatorBase*>(src)), {});
    source.SetCheckpointing({source_writer, &responder, &executor, nullptr});

    RuntimeContext sum_context;
    sum_context.operator_name = "sum";
    auto* op = dynamic_cast<SumOperator*>(
        sum.AddOperator(std::make_unique<SumOperator>(&result, &completed), sum_context));
    head = std::make_unique<ChainingOutput<int64_t>>(op);
    sum.SetInput(std::make_unique<InputGate<int64_t>>(
                     std::vector<ChannelReceiver<int64_t>*>{&channel}, head.get(), &sum.metrics()),
                 {&channel});
    sum.SetCheckpointing({sum_writer, &responder, &executor, nullptr});
  }

  void Start() {
    threads.emplace_back([this] { source.Run(); });
    threads.emplace_back([this] { sum.Run(); });
  }
  void Join() {
    for (auto& t : threads) t.join();
  }

  StreamTask source{"source (1/1)"};
  StreamTask sum{"sum (1/1)"};
  StreamTask* source_ptr = &source;
  LocalChannel<int64_t> channel{4};
  std::unique_ptr<ChainingOutput<int64_t>> head;
  std::atomic<int64_t> result{-1};
  std::atomic<int64_t> completed{0};
  std::vector<std::thread> threads;
};

TEST(StreamTaskCheckpoint, SourceTriggerSnapshotsAtTheBarrierAcksAndRestoresExactly) {
  auto source_writer = std::make_shared<MemoryWriter>("source");
  auto sum_writer = std::make_shared<MemoryWriter>("sum");
  CollectingResponder responder;
  SnapshotExecutor executor(1);
  executor.Start();
  constexpr int64_t kAt = 50;
  {
    Pipeline p(source_writer, sum_writer, responder, executor, kAt);
    p.Start();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (responder.num_acks() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(responder.num_acks(), 2u);
    // The sum task runs until the source ends, which waits for its own notification.
    EXPECT_TRUE(p.sum.NotifyCheckpointComplete(CheckpointId(1)));
    EXPECT_TRUE(p.source.NotifyCheckpointComplete(CheckpointId(1)));
    p.Join();
    EXPECT_EQ(p.result.load(), kRecords * (kRecords - 1) / 2);
    EXPECT_EQ(p.completed.load(), 1);
  }
  EXPECT_TRUE(responder.declines.empty());
  for (const auto& ack : responder.acks) {
    EXPECT_EQ(ack.checkpoint_id, CheckpointId(1));
    EXPECT_FALSE(ack.state_handle.empty());
    EXPECT_GT(ack.state_size, 0u);
  }
  TaskSnapshot source_snapshot = source_writer->Read();
  TaskSnapshot sum_snapshot = sum_writer->Read();
  EXPECT_EQ(source_snapshot.timestamp, 42);
  ASSERT_NE(source_snapshot.Find("source-uid"), nullptr);
  ASSERT_NE(sum_snapshot.Find("0:sum"), nullptr);
  ASSERT_EQ(sum_snapshot.Find("0:sum")->keyed.size(), 1u);
  // The barrier follows record kAt: the sum at the snapshot is 0 + 1 + ... + kAt.
  EXPECT_EQ(sum_snapshot.Find("0:sum")->keyed[0].value, std::to_string(kAt * (kAt + 1) / 2));

  // Restored tasks continue from offset kAt + 1 and the restored sum: the same final result.
  Pipeline restored(source_writer, sum_writer, responder, executor, kAt);
  restored.source.SetRestoreState(source_snapshot);
  restored.sum.SetRestoreState(sum_snapshot);
  restored.Start();
  restored.Join();
  EXPECT_EQ(restored.result.load(), kRecords * (kRecords - 1) / 2);
  executor.Stop();
}

// Records what reaches it, readable from the test thread.
class RecordingOperator final : public OneInputOperator<int64_t> {
 public:
  void ProcessBatch(RecordBatch<int64_t>& batch) override {
    std::lock_guard lock(mutex_);
    for (auto& r : batch.records) values_.push_back(r.value);
  }
  std::vector<int64_t> values() {
    std::lock_guard lock(mutex_);
    return values_;
  }

 private:
  std::mutex mutex_;
  std::vector<int64_t> values_;
};

template <typename Pred>
bool WaitFor(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(StreamTaskCheckpoint, CoordinatorAbortReleasesABlockedChannelWithoutAckOrDecline) {
  LocalChannel<int64_t> a{8}, b{8};
  CollectingResponder responder;
  StreamTask task("aligned (1/1)");
  RuntimeContext context;
  context.operator_name = "record";
  auto* op = dynamic_cast<RecordingOperator*>(
      task.AddOperator(std::make_unique<RecordingOperator>(), context));
  ChainingOutput<int64_t> head(op);
  task.SetInput(std::make_unique<InputGate<int64_t>>(std::vector<ChannelReceiver<int64_t>*>{&a, &b},
                                                     &head, &task.metrics()),
                {&a, &b});
  task.SetCheckpointing({nullptr, &responder, nullptr, nullptr});
  std::thread runner([&] { task.Run(); });
  auto record = [](int64_t v) {
    RecordBatch<int64_t> batch;
    batch.push(v, 0);
    return ChannelElement<int64_t>(std::move(batch));
  };
  auto barrier = [](int64_t id) {
    return ChannelElement<int64_t>(StreamEvent(CheckpointBarrier{CheckpointId(id), 0}));
  };

  a.Send(barrier(1), nullptr);
  a.Send(record(5), nullptr);  // held back: channel a is aligning
  b.Send(record(7), nullptr);
  ASSERT_TRUE(WaitFor([&] { return op->values() == std::vector<int64_t>{7}; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(op->values(), (std::vector<int64_t>{7}));
  EXPECT_TRUE(task.NotifyCheckpointAborted(CheckpointId(1)));
  ASSERT_TRUE(WaitFor([&] { return op->values().size() == 2; }));
  EXPECT_EQ(op->values(), (std::vector<int64_t>{7, 5}));
  b.Send(barrier(1), nullptr);  // late barrier of the aborted checkpoint: ignored

  a.Send(barrier(2), nullptr);
  b.Send(barrier(2), nullptr);
  ASSERT_TRUE(WaitFor([&] { return responder.num_acks() == 1; }));
  EXPECT_EQ(responder.acks[0].checkpoint_id, CheckpointId(2));
  EXPECT_TRUE(responder.declines.empty());
  a.Send(ChannelElement<int64_t>(StreamEvent(EndOfPartition{})), nullptr);
  b.Send(ChannelElement<int64_t>(StreamEvent(EndOfPartition{})), nullptr);
  runner.join();
  EXPECT_EQ(responder.num_acks(), 1u);
}

TEST(StreamTaskCheckpoint, ANewerBarrierDeclinesThePendingCheckpoint) {
  LocalChannel<int64_t> a{8}, b{8};
  CollectingResponder responder;
  StreamTask task("aligned (1/1)");
  RuntimeContext context;
  context.operator_name = "record";
  auto* op = dynamic_cast<RecordingOperator*>(
      task.AddOperator(std::make_unique<RecordingOperator>(), context));
  ChainingOutput<int64_t> head(op);
  task.SetInput(std::make_unique<InputGate<int64_t>>(std::vector<ChannelReceiver<int64_t>*>{&a, &b},
                                                     &head, &task.metrics()),
                {&a, &b});
  task.SetCheckpointing({nullptr, &responder, nullptr, nullptr});
  std::thread runner([&] { task.Run(); });
  auto barrier = [](int64_t id) {
    return ChannelElement<int64_t>(StreamEvent(CheckpointBarrier{CheckpointId(id), 0}));
  };
  a.Send(barrier(1), nullptr);
  b.Send(barrier(2), nullptr);
  a.Send(barrier(2), nullptr);
  ASSERT_TRUE(WaitFor([&] { return responder.num_acks() == 1; }));
  {
    std::lock_guard lock(responder.mutex_);
    ASSERT_EQ(responder.declines.size(), 1u);
    EXPECT_NE(responder.declines[0].find(" 1: "), std::string::npos) << responder.declines[0];
    EXPECT_EQ(responder.acks[0].checkpoint_id, CheckpointId(2));
  }
  task.Cancel();
  runner.join();
}

}  // namespace
}  // namespace brook
