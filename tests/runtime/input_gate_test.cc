#include "brook/runtime/task_input.h"

#include <gtest/gtest.h>

#include "brook_test/collecting_output.h"

namespace brook {
namespace {

using testing::CollectingOutput;

struct GateFixture {
  LocalChannel<int> a{16};
  LocalChannel<int> b{16};
  CollectingOutput<int> head;
  TaskIoMetrics metrics;
  InputGate<int> gate{{&a, &b}, &head, &metrics};

  void DrainAll() {
    while (gate.ProcessNext() == TaskInput::Status::kMoreAvailable) {
    }
  }
};

RecordBatch<int> One(int v) {
  RecordBatch<int> batch;
  batch.push(v, v);
  return batch;
}

TEST(InputGate, ForwardsTheMinimumWatermarkOfItsChannels) {
  GateFixture f;
  f.a.Send(StreamEvent(Watermark{10}), nullptr);
  f.DrainAll();
  EXPECT_TRUE(f.head.watermarks.empty());  // channel b holds event time back
  f.b.Send(StreamEvent(Watermark{7}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{7}));
  f.b.Send(StreamEvent(Watermark{20}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{7, 10}));
  EXPECT_EQ(f.gate.current_watermark(), 10);
}

TEST(InputGate, AnEndedChannelNoLongerHoldsTheWatermarkBack) {
  GateFixture f;
  f.a.Send(StreamEvent(Watermark{50}), nullptr);
  f.b.Send(StreamEvent(Watermark{5}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{5}));
  f.b.Send(StreamEvent(EndOfPartition{}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{5, 50}));
}

TEST(InputGate, AnIdleChannelNoLongerHoldsTheWatermarkBack) {
  GateFixture f;
  f.a.Send(StreamEvent(Watermark{30}), nullptr);
  f.DrainAll();
  EXPECT_TRUE(f.head.watermarks.empty());
  f.b.Send(StreamEvent(WatermarkStatus{true}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{30}));
  EXPECT_TRUE(f.head.statuses.empty());  // one channel is still active
  f.a.Send(StreamEvent(WatermarkStatus{true}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.statuses, (std::vector<bool>{true}));  // all idle: the gate is idle
  f.b.Send(StreamEvent(WatermarkStatus{false}), nullptr);
  f.b.Send(StreamEvent(Watermark{40}), nullptr);
  f.DrainAll();
  EXPECT_EQ(f.head.statuses, (std::vector<bool>{true, false}));
  EXPECT_EQ(f.head.watermarks, (std::vector<Timestamp>{30, 40}));
}

TEST(InputGate, DeliversRecordsCountsThemAndEndsWhenEveryChannelEnded) {
  GateFixture f;
  f.a.Send(One(1), nullptr);
  f.b.Send(One(2), nullptr);
  f.a.Send(StreamEvent(EndOfPartition{}), nullptr);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kMoreAvailable);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kMoreAvailable);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kMoreAvailable);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kNothingAvailable);
  f.b.Send(StreamEvent(EndOfPartition{}), nullptr);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kMoreAvailable);
  EXPECT_EQ(f.gate.ProcessNext(), TaskInput::Status::kEndOfInput);
  EXPECT_EQ(f.head.values.size(), 2u);
  EXPECT_EQ(f.metrics.records_in->value(), 2);
}

}  // namespace
}  // namespace brook
