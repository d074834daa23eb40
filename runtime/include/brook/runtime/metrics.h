// Metrics: counters, gauges and histograms, registered under a name and labels in a
// MetricRegistry (one per process) from which reporters (REST, Prometheus) read.
//
// Threading: metric updates are lock-free and may come from any thread; registration and
// reading the registry take the registry's mutex and are not for the hot path. Tasks update
// their metrics once per batch, not per record.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace brook {

// A count that only grows. Either incremented by its owner, or computed on read by a callback
// (a sum of counters kept elsewhere, say), which must be thread-safe and never decrease.
class Counter {
 public:
  Counter() = default;
  explicit Counter(std::function<int64_t()> read) : read_(std::move(read)) {}
  void Inc(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return read_ ? read_() : value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
  std::function<int64_t()> read_;
};

// A value set by its owner, or computed on read by a callback (which must be thread-safe).
class Gauge {
 public:
  Gauge() = default;
  explicit Gauge(std::function<double()> read) : read_(std::move(read)) {}
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return read_ ? read_() : value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
  std::function<double()> read_;
};

// A histogram of non-negative values over exponential buckets (powers of two, 0 to 2^40),
// cheap to record from any thread, with approximate quantiles for reports.
class Histogram {
 public:
  static constexpr int kBuckets = 42;  // bucket i holds values in [2^(i-1), 2^i), bucket 0 holds 0

  void Record(int64_t value);
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  int64_t max() const { return max_.load(std::memory_order_relaxed); }
  // Upper bound of the bucket holding the q-quantile (0 <= q <= 1), capped by max(); 0 if empty.
  int64_t Quantile(double q) const;
  // Inclusive upper bound of bucket i and its count, for cumulative exposition.
  static int64_t BucketUpperBound(int i);
  int64_t BucketCount(int i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct MetricEntry {
  using Metric =
      std::variant<std::shared_ptr<Counter>, std::shared_ptr<Gauge>, std::shared_ptr<Histogram>>;
  std::string name;
  MetricLabels labels;
  Metric metric;
};

class MetricRegistry {
 public:
  MetricRegistry() = default;
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  // Registering the same name and labels twice returns the existing metric.
  std::shared_ptr<Counter> AddCounter(const std::string& name, const MetricLabels& labels);
  std::shared_ptr<Gauge> AddGauge(const std::string& name, const MetricLabels& labels,
                                  std::function<double()> read = {});
  std::shared_ptr<Histogram> AddHistogram(const std::string& name, const MetricLabels& labels);
  // Registers a metric made elsewhere, replacing any with the same name and labels (a restarted
  // task's new counters replace the old ones).
  void Register(const std::string& name, const MetricLabels& labels, MetricEntry::Metric metric);
  // Drops every metric whose labels include all of `labels` (a finished task's, say).
  void RemoveMatching(const MetricLabels& labels);
  // Copies: the copies keep the metrics alive, so not for metrics that a job library made
  // (those must be gone before it is unloaded); ForEach reads in place.
  std::vector<MetricEntry> Snapshot() const;
  // Calls fn on each entry under the registry's lock: a removal waits until fn returns, so no
  // reader holds a removed metric. fn must not call back into the registry.
  void ForEach(const std::function<void(const MetricEntry&)>& fn) const;

 private:
  template <typename M, typename... Args>
  std::shared_ptr<M> Add(const std::string& name, const MetricLabels& labels, Args&&... args);

  mutable std::mutex mutex_;
  std::vector<MetricEntry> entries_;  // guarded by mutex_
};

// End-to-end latency of the latency markers that ended in one subtask (reached an operator
// without a main output: a sink), in microseconds, one histogram per source vertex (Flink's
// latency tracking). A source's histogram is made when its first marker arrives and registered
// in the registry given to RegisterIn, if any, under the task's labels plus `source_vertex`.
//
// Threading: Record() on the task thread, the rest from any thread. Markers are rare (one per
// source subtask and latency tracking interval), so a mutex guards the list.
class LatencyHistograms {
 public:
  struct BySource {
    int32_t source_vertex;
    std::shared_ptr<Histogram> histogram;
  };

  // Records one marker's latency from source vertex `source_vertex`.
  void Record(int32_t source_vertex, int64_t latency_us);
  // The histograms recorded so far, by source vertex.
  std::vector<BySource> Snapshot() const;
  // Registers the existing histograms and the ones made later in `registry`.
  // REQUIRES: `registry` outlives this object's Record() calls.
  void RegisterIn(MetricRegistry& registry, const MetricLabels& labels);

 private:
  mutable std::mutex mutex_;
  std::vector<BySource> by_source_;     // guarded by mutex_
  MetricRegistry* registry_ = nullptr;  // guarded by mutex_
  MetricLabels labels_;                 // guarded by mutex_
};

// The I/O metrics of one subtask, updated by its thread once per batch and read by reporters.
struct TaskIoMetrics {
  std::shared_ptr<Counter> records_in = std::make_shared<Counter>();
  std::shared_ptr<Counter> records_out = std::make_shared<Counter>();
  // Serialized bytes received from / sent to network channels (data frames as they cross the
  // wire). Local channels hand batches over without serializing and count no bytes, as in
  // Flink. The deployment replaces these with sums over the task's network channels.
  std::shared_ptr<Counter> bytes_in = std::make_shared<Counter>();
  std::shared_ptr<Counter> bytes_out = std::make_shared<Counter>();
  // How full the task's output and input channels are, 0..1 (Flink's outPoolUsage and
  // inPoolUsage), as last sampled by StreamTask::SampleQueueUsage.
  std::shared_ptr<Gauge> out_pool_usage = std::make_shared<Gauge>();
  std::shared_ptr<Gauge> in_pool_usage = std::make_shared<Gauge>();
  std::shared_ptr<Counter> busy_ns = std::make_shared<Counter>();
  std::shared_ptr<Counter> idle_ns = std::make_shared<Counter>();
  std::shared_ptr<Counter> backpressure_ns = std::make_shared<Counter>();
  std::shared_ptr<Gauge> current_watermark = std::make_shared<Gauge>();
  std::shared_ptr<LatencyHistograms> latency = std::make_shared<LatencyHistograms>();
  // Checkpoint barrier alignment: total time spent aligning, and the last checkpoint's.
  std::shared_ptr<Counter> alignment_ns = std::make_shared<Counter>();
  std::shared_ptr<Gauge> last_alignment_ns = std::make_shared<Gauge>();

  // Registers these metrics in `registry` under `labels` (job, vertex, subtask).
  void RegisterIn(MetricRegistry& registry, const MetricLabels& labels) const;
};

}  // namespace brook
