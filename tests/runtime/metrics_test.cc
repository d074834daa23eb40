#include "brook/runtime/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace brook {
namespace {

TEST(Histogram, ReportsQuantilesWithinABucketOfTheTruth) {
  Histogram h;
  for (int v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1000);
  EXPECT_EQ(h.sum(), 500500);
  EXPECT_EQ(h.max(), 1000);
  int64_t p50 = h.Quantile(0.5);
  EXPECT_GE(p50, 500);
  EXPECT_LE(p50, 1023);
  EXPECT_EQ(h.Quantile(1.0), 1000);
  EXPECT_EQ(Histogram().Quantile(0.5), 0);
}

TEST(Counter, CountsFromManyThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
}

TEST(MetricRegistry, ReturnsTheSameMetricForTheSameNameAndLabels) {
  MetricRegistry registry;
  auto a = registry.AddCounter("numRecordsIn", {{"task", "1"}});
  auto b = registry.AddCounter("numRecordsIn", {{"task", "1"}});
  auto c = registry.AddCounter("numRecordsIn", {{"task", "2"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto g = registry.AddGauge("queue", {{"task", "1"}}, [] { return 7.0; });
  EXPECT_EQ(g->value(), 7.0);
  EXPECT_EQ(registry.Snapshot().size(), 3u);
  registry.RemoveMatching({{"task", "1"}});
  auto left = registry.Snapshot();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].labels[0].second, "2");
}

TEST(TaskIoMetrics, RegistersEveryTaskMetric) {
  MetricRegistry registry;
  TaskIoMetrics metrics;
  metrics.RegisterIn(registry, {{"subtask", "0"}});
  metrics.records_in->Inc(5);
  bool found = false;
  for (const auto& e : registry.Snapshot())
    if (e.name == "numRecordsIn") {
      found = true;
      EXPECT_EQ(std::get<std::shared_ptr<Counter>>(e.metric)->value(), 5);
    }
  EXPECT_TRUE(found);
  EXPECT_EQ(registry.Snapshot().size(), 13u);
}

TEST(Counter, ReadThroughACallbackSumsCountersKeptElsewhere) {
  auto a = std::make_shared<Counter>();
  auto b = std::make_shared<Counter>();
  Counter sum([a, b] { return a->value() + b->value(); });
  a->Inc(3);
  b->Inc(4);
  EXPECT_EQ(sum.value(), 7);
}

TEST(LatencyHistograms, RegistersOneHistogramPerSourceWhenItsFirstMarkerArrives) {
  MetricRegistry registry;
  TaskIoMetrics metrics;
  metrics.latency->Record(2, 40);  // before registration: registered with the rest
  metrics.RegisterIn(registry, {{"subtask", "0"}});
  metrics.latency->Record(2, 60);
  metrics.latency->Record(5, 1000);
  std::map<std::string, int64_t> counts;
  for (const auto& e : registry.Snapshot()) {
    if (e.name != "latencyUs") continue;
    ASSERT_EQ(e.labels.size(), 2u);
    EXPECT_EQ(e.labels[0], (std::pair<std::string, std::string>("subtask", "0")));
    EXPECT_EQ(e.labels[1].first, "source_vertex");
    counts[e.labels[1].second] = std::get<std::shared_ptr<Histogram>>(e.metric)->count();
  }
  EXPECT_EQ(counts, (std::map<std::string, int64_t>{{"2", 2}, {"5", 1}}));
  const auto snapshot = metrics.latency->Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].source_vertex, 2);
  EXPECT_EQ(snapshot[0].histogram->sum(), 100);
  EXPECT_EQ(snapshot[1].histogram->max(), 1000);
  // A finished task's metrics go, latency histograms included.
  registry.RemoveMatching({{"subtask", "0"}});
  EXPECT_TRUE(registry.Snapshot().empty());
}

}  // namespace
}  // namespace brook
