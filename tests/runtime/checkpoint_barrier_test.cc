// Barrier handling at the input gates: alignment orders in the three checkpointing modes, with
// end-of-partition, aborts by newer barriers and by the coordinator, and channel state.
#include "brook/runtime/checkpoint_barrier_handler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "brook/runtime/task_input.h"
#include "brook_test/collecting_output.h"

namespace brook {
namespace {

using testing::CollectingOutput;

// Records what the handler asks of the task, and what the head had received at each trigger.
struct RecordingListener final : CheckpointBarrierHandler::Listener {
  CollectingOutput<int>* head = nullptr;
  std::vector<int64_t> triggered;
  std::vector<std::vector<int>> seen_at_trigger;
  std::vector<int64_t> aborted;
  std::vector<std::pair<int64_t, ChannelState>> channel_states;

  void OnCheckpointTriggered(const CheckpointBarrier& b, int64_t alignment_ns) override {
    EXPECT_GE(alignment_ns, 0);
    triggered.push_back(b.id.value());
    seen_at_trigger.push_back(head->values);
  }
  void OnChannelStateComplete(CheckpointId id, ChannelState state, int64_t) override {
    channel_states.emplace_back(id.value(), std::move(state));
  }
  void OnCheckpointAborted(CheckpointId id, const std::string&) override {
    aborted.push_back(id.value());
  }
};

struct Fixture {
  explicit Fixture(CheckpointingMode mode, size_t channels = 2) : handler(mode, channels, &listener) {
    listener.head = &head;
    for (size_t i = 0; i < channels; ++i) owned.push_back(std::make_unique<LocalChannel<int>>(64));
    std::vector<ChannelReceiver<int>*> receivers;
    for (auto& c : owned) receivers.push_back(c.get());
    gate = std::make_unique<InputGate<int>>(receivers, &head, &metrics);
    gate->BindBarrierHandler(&handler, 0);
  }
  void Record(size_t c, int v) {
    RecordBatch<int> batch;
    batch.push(v, v);
    owned[c]->Send(std::move(batch), nullptr);
  }
  void Barrier(size_t c, int64_t id) {
    owned[c]->Send(StreamEvent(CheckpointBarrier{CheckpointId(id), 1000}), nullptr);
  }
  void End(size_t c) { owned[c]->Send(StreamEvent(EndOfPartition{}), nullptr); }
  TaskInput::Status Drain() {
    TaskInput::Status s;
    for (int i = 0; i < 1000; ++i)
      if ((s = gate->ProcessNext()) != TaskInput::Status::kMoreAvailable) return s;
    ADD_FAILURE() << "gate never ran dry";
    return s;
  }

  RecordingListener listener;
  CheckpointBarrierHandler handler;
  CollectingOutput<int> head;
  TaskIoMetrics metrics;
  std::vector<std::unique_ptr<LocalChannel<int>>> owned;
  std::unique_ptr<InputGate<int>> gate;
};

TEST(CheckpointBarrierHandler, AlignedBarrierBlocksItsChannelUntilEveryChannelDeliveredIt) {
  Fixture f(CheckpointingMode::kAligned);
  f.Record(0, 1);
  f.Barrier(0, 1);
  f.Record(0, 2);  // after the barrier: must wait for the snapshot
  f.Record(1, 10);
  EXPECT_EQ(f.Drain(), TaskInput::Status::kNothingAvailable);
  EXPECT_TRUE(f.handler.IsBlocked(0));
  EXPECT_EQ(f.head.values, (std::vector<int>{1, 10}));
  EXPECT_TRUE(f.listener.triggered.empty());
  f.Record(1, 11);
  f.Barrier(1, 1);
  f.Drain();
  ASSERT_EQ(f.listener.triggered, (std::vector<int64_t>{1}));
  // The snapshot saw exactly the records before the barriers: 1, 10, 11, not 2.
  std::vector<int> at_snapshot = f.listener.seen_at_trigger[0];
  std::sort(at_snapshot.begin(), at_snapshot.end());
  EXPECT_EQ(at_snapshot, (std::vector<int>{1, 10, 11}));
  EXPECT_EQ(f.head.values.back(), 2);  // released afterwards
  EXPECT_FALSE(f.handler.IsBlocked(0));
}

TEST(CheckpointBarrierHandler, AlignedChannelThatEndsDuringAlignmentNoLongerCounts) {
  Fixture f(CheckpointingMode::kAligned);
  f.Barrier(0, 1);
  f.Record(0, 2);
  f.Record(1, 10);
  f.End(1);
  EXPECT_EQ(f.Drain(), TaskInput::Status::kNothingAvailable);
  ASSERT_EQ(f.listener.triggered, (std::vector<int64_t>{1}));
  EXPECT_EQ(f.listener.seen_at_trigger[0], (std::vector<int>{10}));
  EXPECT_EQ(f.head.values, (std::vector<int>{10, 2}));
  // The next checkpoint needs only the open channel.
  f.Barrier(0, 2);
  f.Drain();
  EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{1, 2}));
}

TEST(CheckpointBarrierHandler, NewerBarrierAbortsThePendingAlignment) {
  Fixture f(CheckpointingMode::kAligned);
  f.Barrier(0, 1);
  f.Record(0, 5);
  f.Drain();
  EXPECT_TRUE(f.handler.IsBlocked(0));
  f.Barrier(1, 2);  // channel 1 never delivered 1: checkpoint 2 overtakes it
  f.Drain();
  EXPECT_EQ(f.listener.aborted, (std::vector<int64_t>{1}));
  EXPECT_FALSE(f.handler.IsBlocked(0));
  EXPECT_TRUE(f.handler.IsBlocked(1));
  EXPECT_EQ(f.head.values, (std::vector<int>{5}));
  f.Barrier(1, 1);  // a late barrier of the aborted checkpoint is ignored
  f.Barrier(0, 2);
  f.Drain();
  EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{2}));
}

TEST(CheckpointBarrierHandler, AnOlderBarrierArrivingDuringANewerAlignmentIsIgnored) {
  Fixture f(CheckpointingMode::kAligned);
  f.Barrier(0, 2);
  f.Drain();
  f.Barrier(1, 1);  // checkpoint 1 never started here; it must not count for 2
  f.Drain();
  EXPECT_TRUE(f.listener.triggered.empty());
  EXPECT_TRUE(f.handler.IsBlocked(0));
  f.Barrier(1, 2);
  f.Drain();
  EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{2}));
}

TEST(CheckpointBarrierHandler, CoordinatorAbortUnblocksAndIgnoresLateBarriers) {
  Fixture f(CheckpointingMode::kAligned);
  f.Barrier(0, 3);
  f.Record(0, 7);
  f.Drain();
  EXPECT_TRUE(f.head.values.empty());
  f.handler.Abort(CheckpointId(3), "timed out");
  EXPECT_EQ(f.listener.aborted, (std::vector<int64_t>{3}));
  f.Barrier(1, 3);
  f.Drain();
  EXPECT_EQ(f.head.values, (std::vector<int>{7}));
  EXPECT_TRUE(f.listener.triggered.empty());
  EXPECT_FALSE(f.handler.pending().has_value());
}

TEST(CheckpointBarrierHandler, AtLeastOnceNeverBlocksAndSnapshotsAtTheLastBarrier) {
  Fixture f(CheckpointingMode::kAtLeastOnce);
  f.Barrier(0, 1);
  f.Record(0, 2);
  f.Record(1, 10);
  f.Drain();
  EXPECT_FALSE(f.handler.IsBlocked(0));
  EXPECT_TRUE(f.listener.triggered.empty());
  std::vector<int> before = f.head.values;
  std::sort(before.begin(), before.end());
  EXPECT_EQ(before, (std::vector<int>{2, 10}));  // 2 was not held back
  f.Barrier(1, 1);
  f.Drain();
  EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{1}));
}

TEST(CheckpointBarrierHandler, UnalignedTriggersAtOnceAndRecordsInFlightRecords) {
  Fixture f(CheckpointingMode::kUnaligned);
  f.Record(1, 10);  // queued on channel 1 before its barrier: in flight at the cut
  f.Barrier(0, 1);
  f.Record(0, 2);   // after channel 0's barrier: not channel state
  f.Drain();
  ASSERT_EQ(f.listener.triggered, (std::vector<int64_t>{1}));
  EXPECT_TRUE(f.listener.channel_states.empty());  // channel 1's barrier is still out
  f.Record(1, 11);
  f.Barrier(1, 1);
  f.Record(1, 12);  // after the barrier: not channel state
  f.Drain();
  ASSERT_EQ(f.listener.channel_states.size(), 1u);
  const ChannelState& state = f.listener.channel_states[0].second;
  ASSERT_EQ(state.size(), 2u);
  EXPECT_TRUE(state[0].empty());
  std::vector<int> in_flight;
  for (const std::string& r : state[1]) {
    auto [v, ts] = Deserialize<std::pair<int, Timestamp>>(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(r.data()), r.size()));
    in_flight.push_back(v);
    EXPECT_EQ(ts, v);
  }
  // 10 may have been processed before the barrier on channel 0 was seen (round-robin): then it is
  // not in flight. 11 is in flight in any order.
  EXPECT_TRUE(in_flight == std::vector<int>({10, 11}) || in_flight == std::vector<int>({11}));
  std::vector<int> all = f.head.values;
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int>{2, 10, 11, 12}));  // nothing was held back
}

// Savepoints hold no in-flight records (they restore at any parallelism, and a stopping task
// must have nothing left to process once it took one): their barriers align in unaligned mode.
TEST(CheckpointBarrierHandler, SavepointBarriersAlignInUnalignedMode) {
  for (CheckpointKind kind : {CheckpointKind::kSavepoint, CheckpointKind::kSynchronousSavepoint}) {
    Fixture f(CheckpointingMode::kUnaligned);
    f.owned[0]->Send(StreamEvent(CheckpointBarrier{CheckpointId(1), 0, kind}), nullptr);
    f.Record(0, 2);  // after channel 0's barrier: held back until channel 1's arrives
    f.Record(1, 10);
    f.Drain();
    EXPECT_TRUE(f.listener.triggered.empty());
    EXPECT_EQ(f.head.values, (std::vector<int>{10}));
    EXPECT_TRUE(f.handler.IsBlocked(0));
    EXPECT_FALSE(f.handler.IsRecording(1));
    f.owned[1]->Send(StreamEvent(CheckpointBarrier{CheckpointId(1), 0, kind}), nullptr);
    f.Drain();
    EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{1}));
    EXPECT_EQ(f.listener.seen_at_trigger[0], (std::vector<int>{10}));
    EXPECT_TRUE(f.listener.channel_states.empty());
    EXPECT_EQ(f.head.values, (std::vector<int>{10, 2}));

    // The next periodic checkpoint is unaligned again.
    f.Barrier(0, 2);
    f.Record(0, 3);
    f.Drain();
    EXPECT_EQ(f.listener.triggered, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(f.head.values, (std::vector<int>{10, 2, 3}));
  }
}

TEST(CheckpointBarrierHandler, RestoredChannelStateIsReplayedBeforeTheChannels) {
  Fixture f(CheckpointingMode::kUnaligned);
  ChannelState state(2);
  for (int v : {100, 101}) {
    auto bytes = Serialize(std::pair<int, Timestamp>(v, 5));
    state[1].emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  f.gate->RestoreChannelState(state);
  f.Record(0, 1);
  f.Drain();
  EXPECT_EQ(f.head.values, (std::vector<int>{100, 101, 1}));
  EXPECT_EQ(f.head.records[0].timestamp, 5);
}

TEST(CheckpointBarrierHandler, TwoGateInputNumbersChannelsAcrossBothGates) {
  RecordingListener listener;
  CollectingOutput<int> head1, head2;
  listener.head = &head1;
  CheckpointBarrierHandler handler(CheckpointingMode::kAligned, 3, &listener);
  LocalChannel<int> a{8}, b{8}, c{8};
  auto g1 = std::make_unique<InputGate<int>>(std::vector<ChannelReceiver<int>*>{&a, &b}, &head1,
                                             nullptr);
  auto g2 = std::make_unique<InputGate<int>>(std::vector<ChannelReceiver<int>*>{&c}, &head2,
                                             nullptr);
  TwoGateInput input(std::move(g1), std::move(g2));
  EXPECT_EQ(input.BindBarrierHandler(&handler, 0), 3u);
  for (auto* ch : {&a, &b}) ch->Send(StreamEvent(CheckpointBarrier{CheckpointId(1), 0}), nullptr);
  for (int i = 0; i < 10; ++i) input.ProcessNext();
  EXPECT_TRUE(listener.triggered.empty());
  EXPECT_TRUE(handler.IsBlocked(0) && handler.IsBlocked(1) && !handler.IsBlocked(2));
  c.Send(StreamEvent(CheckpointBarrier{CheckpointId(1), 0}), nullptr);
  for (int i = 0; i < 10; ++i) input.ProcessNext();
  EXPECT_EQ(listener.triggered, (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace brook
