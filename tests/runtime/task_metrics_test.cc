// Task metrics that StreamTask itself produces: latency markers from a source task reach the
// sink of a downstream task past the user functions in between and land in its per-source
// latency histogram; without a tracking interval none are emitted; queue usage is sampled from
// the task's output and input channels.
#include "brook/runtime/stream_task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "brook/runtime/record_writer.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

// Emits 0..count-1, one record per millisecond, then ends: a source that spends most of its time
// parked, as a rate-limited one does.
class SlowSource final : public SourceOperatorBase, WithOutput<int64_t> {
 public:
  explicit SlowSource(int64_t count) : count_(count) {}
  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    BindOutput(main_output_base());
  }
  SourceStatus EmitNext() override {
    if (next_ >= count_) return SourceStatus::End();
    RecordBatch<int64_t> batch;
    batch.push(next_, next_);
    output()->Push(batch);
    ++next_;
    return SourceStatus::NothingUntil(ProcessingTimeService::Now() + 1);
  }

 private:
  const int64_t count_;
  int64_t next_ = 0;
};

// A user function stand-in: counts the records it sees, passes them on.
class CountingMap final : public OneInputOperator<int64_t>, WithOutput<int64_t> {
 public:
  explicit CountingMap(std::atomic<int64_t>* seen) : seen_(seen) {}
  void Open(RuntimeContext& context) override {
    OneInputOperator::Open(context);
    BindOutput(main_output_base());
  }
  void ProcessBatch(RecordBatch<int64_t>& batch) override {
    seen_->fetch_add(int64_t(batch.size()));
    output()->Push(batch);
  }

 private:
  std::atomic<int64_t>* seen_;
};

// No main output: the end of the stream, where latency markers are recorded.
class CountingSink final : public OneInputOperator<int64_t> {
 public:
  explicit CountingSink(std::atomic<int64_t>* received) : received_(received) {}
  void ProcessBatch(RecordBatch<int64_t>& batch) override {
    received_->fetch_add(int64_t(batch.size()));
  }

 private:
  std::atomic<int64_t>* received_;
};

// source task (source vertex 7) --local channel--> task: map -> sink
struct MarkerPipeline {
  MarkerPipeline(std::chrono::milliseconds latency_interval, int64_t records)
      : source("source (1/1)", SourceOptions(latency_interval)) {
    RuntimeContext source_context;
    source_context.operator_name = "source";
    auto* src = source.AddOperator(std::make_unique<SlowSource>(records), source_context);
    auto* writer = source.AddWriter(std::make_unique<ForwardWriter<int64_t>>(
                                        std::vector<ChannelSender<int64_t>*>{&channel}, WriterOptions{}),
                                    {&channel});
    src->SetMainOutput(&writer->AsOutput());
    source.SetInput(std::make_unique<SourceInput>(dynamic_cast<SourceOperatorBase*>(src)), {});

    RuntimeContext map_context;
    map_context.operator_name = "map";
    auto* map = dynamic_cast<CountingMap*>(
        sink.AddOperator(std::make_unique<CountingMap>(&mapped), map_context));
    RuntimeContext sink_context;
    sink_context.operator_name = "sink";
    auto* end = dynamic_cast<CountingSink*>(
        sink.AddOperator(std::make_unique<CountingSink>(&received), sink_context));
    map->SetMainOutput(sink.AddOutput(std::make_unique<ChainingOutput<int64_t>>(end)));
    head = std::make_unique<ChainingOutput<int64_t>>(map);
    sink.SetInput(std::make_unique<InputGate<int64_t>>(
                      std::vector<ChannelReceiver<int64_t>*>{&channel}, head.get(), &sink.metrics()),
                  {&channel});
  }

  static StreamTaskOptions SourceOptions(std::chrono::milliseconds interval) {
    StreamTaskOptions options;
    options.latency_markers.interval = interval;
    options.latency_markers.source_vertex = VertexId(7);
    options.latency_markers.source_subtask = SubtaskIndex(0);
    return options;
  }

  void RunToEnd() {
    std::thread consumer([this] { sink.Run(); });
    source.Run();
    consumer.join();
  }

  LocalChannel<int64_t> channel{4};
  StreamTask source;
  StreamTask sink{"map -> sink (1/1)"};
  std::unique_ptr<ChainingOutput<int64_t>> head;
  std::atomic<int64_t> mapped{0};
  std::atomic<int64_t> received{0};
};

TEST(TaskMetrics, SourceLatencyMarkersReachTheSinkPastUserFunctions) {
  constexpr int64_t kRecords = 150;  // at least 150 ms of running: many 5 ms marker intervals
  MarkerPipeline p(5ms, kRecords);
  const auto started = std::chrono::steady_clock::now();
  p.RunToEnd();
  const auto ran_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();

  // Markers do not reach the map's function and are not records.
  EXPECT_EQ(p.mapped.load(), kRecords);
  EXPECT_EQ(p.received.load(), kRecords);
  EXPECT_EQ(p.sink.metrics().records_in->value(), kRecords);

  const auto latency = p.sink.metrics().latency->Snapshot();
  ASSERT_EQ(latency.size(), 1u);
  EXPECT_EQ(latency[0].source_vertex, 7);
  const Histogram& h = *latency[0].histogram;
  // One marker per 5 ms while the source ran (timers fire late, never early): more than a few,
  // no more than the run allows.
  EXPECT_GE(h.count(), 5) << "ran " << ran_ms << " ms";
  EXPECT_LE(h.count(), ran_ms / 5 + 1);
  // A local hand-over takes microseconds to milliseconds, never as long as the whole run.
  EXPECT_LT(h.max(), ran_ms * 1000);
  // The source recorded nothing: it has a main output.
  EXPECT_TRUE(p.source.metrics().latency->Snapshot().empty());
}

TEST(TaskMetrics, NoLatencyMarkersWithoutAnInterval) {
  MarkerPipeline p(0ms, 30);
  p.RunToEnd();
  EXPECT_EQ(p.received.load(), 30);
  EXPECT_TRUE(p.sink.metrics().latency->Snapshot().empty());
}

TEST(TaskMetrics, QueueUsageIsQueuedOverCapacityOfTheTasksChannels) {
  LocalChannel<int64_t> out{4};
  LocalChannel<int64_t> in{8};
  StreamTask task("map (1/1)");
  RuntimeContext context;
  context.operator_name = "map";
  std::atomic<int64_t> seen{0};
  auto* map = dynamic_cast<CountingMap*>(task.AddOperator(std::make_unique<CountingMap>(&seen), context));
  auto* writer = task.AddWriter(std::make_unique<ForwardWriter<int64_t>>(
                                    std::vector<ChannelSender<int64_t>*>{&out}, WriterOptions{}),
                                {&out});
  map->SetMainOutput(&writer->AsOutput());
  auto head = std::make_unique<ChainingOutput<int64_t>>(map);
  task.SetInput(std::make_unique<InputGate<int64_t>>(std::vector<ChannelReceiver<int64_t>*>{&in},
                                                      head.get(), &task.metrics()),
                {&in});

  task.SampleQueueUsage();
  EXPECT_EQ(task.metrics().out_pool_usage->value(), 0.0);
  EXPECT_EQ(task.metrics().in_pool_usage->value(), 0.0);

  for (int i = 0; i < 3; ++i) out.Send(StreamEvent(Watermark{i}), nullptr);
  for (int i = 0; i < 2; ++i) in.Send(StreamEvent(Watermark{i}), nullptr);
  task.SampleQueueUsage();
  EXPECT_DOUBLE_EQ(task.metrics().out_pool_usage->value(), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(task.metrics().in_pool_usage->value(), 2.0 / 8.0);

  ChannelElement<int64_t> element;
  ASSERT_TRUE(out.Poll(element));
  task.SampleQueueUsage();
  EXPECT_DOUBLE_EQ(task.metrics().out_pool_usage->value(), 2.0 / 4.0);
}

}  // namespace
}  // namespace brook
