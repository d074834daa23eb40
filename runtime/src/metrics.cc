#include "brook/runtime/metrics.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>

namespace brook {

void Histogram::Record(int64_t value) {
  if (value < 0) value = 0;
  int bucket = value == 0 ? 0 : std::min<int>(kBuckets - 1, std::bit_width(uint64_t(value)));
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

int64_t Histogram::BucketUpperBound(int i) { return i == 0 ? 0 : (int64_t{1} << i) - 1; }

int64_t Histogram::Quantile(double q) const {
  int64_t total = count();
  if (total == 0) return 0;
  auto rank = static_cast<int64_t>(q * double(total - 1)) + 1;
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += BucketCount(i);
    if (seen >= rank) return std::min(BucketUpperBound(i), max());
  }
  return max();
}

template <typename M, typename... Args>
std::shared_ptr<M> MetricRegistry::Add(const std::string& name, const MetricLabels& labels,
                                       Args&&... args) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e.name == name && e.labels == labels) {
      if (auto* existing = std::get_if<std::shared_ptr<M>>(&e.metric)) return *existing;
    }
  }
  auto metric = std::make_shared<M>(std::forward<Args>(args)...);
  entries_.push_back({name, labels, metric});
  return metric;
}

std::shared_ptr<Counter> MetricRegistry::AddCounter(const std::string& name,
                                                    const MetricLabels& labels) {
  return Add<Counter>(name, labels);
}

std::shared_ptr<Gauge> MetricRegistry::AddGauge(const std::string& name,
                                                const MetricLabels& labels,
                                                std::function<double()> read) {
  return Add<Gauge>(name, labels, std::move(read));
}

std::shared_ptr<Histogram> MetricRegistry::AddHistogram(const std::string& name,
                                                        const MetricLabels& labels) {
  return Add<Histogram>(name, labels);
}

void MetricRegistry::Register(const std::string& name, const MetricLabels& labels,
                              MetricEntry::Metric metric) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const MetricEntry& e) { return e.name == name && e.labels == labels; });
  entries_.push_back({name, labels, std::move(metric)});
}

void MetricRegistry::RemoveMatching(const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const MetricEntry& e) {
    return std::all_of(labels.begin(), labels.end(), [&](const auto& l) {
      return std::find(e.labels.begin(), e.labels.end(), l) != e.labels.end();
    });
  });
}

std::vector<MetricEntry> MetricRegistry::Snapshot() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

void MetricRegistry::ForEach(const std::function<void(const MetricEntry&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const MetricEntry& entry : entries_) fn(entry);
}

void TaskIoMetrics::RegisterIn(MetricRegistry& registry, const MetricLabels& labels) const {
  // Replaces an entry with the same name and labels: a restarted task reports its new counters.
  auto add = [&](const char* name, auto metric) { registry.Register(name, labels, metric); };
  latency->RegisterIn(registry, labels);
  add("numRecordsIn", records_in);
  add("numRecordsOut", records_out);
  add("busyTimeNs", busy_ns);
  add("idleTimeNs", idle_ns);
  add("backPressuredTimeNs", backpressure_ns);
  add("currentWatermark", current_watermark);
  // How far event time trails the wall clock (Flink's watermark lag); NaN before the first
  // watermark and after the last (end of input).
  add("watermarkLagMs", std::make_shared<Gauge>([watermark = current_watermark] {
        const double w = watermark->value();
        if (!(w > -9.0e18 && w < 9.0e18)) return std::numeric_limits<double>::quiet_NaN();
        const double now_ms = double(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
        return now_ms - w;
      }));
  add("checkpointAlignmentTimeNs", alignment_ns);
  add("lastCheckpointAlignmentNs", last_alignment_ns);
  add("numBytesIn", bytes_in);
  add("numBytesOut", bytes_out);
  add("outPoolUsage", out_pool_usage);
  add("inPoolUsage", in_pool_usage);
}

void LatencyHistograms::Record(int32_t source_vertex, int64_t latency_us) {
  std::shared_ptr<Histogram> histogram;
  MetricRegistry* registry = nullptr;
  MetricLabels labels;
  {
    std::lock_guard lock(mutex_);
    for (const auto& entry : by_source_)
      if (entry.source_vertex == source_vertex) histogram = entry.histogram;
    if (!histogram) {
      histogram = std::make_shared<Histogram>();
      by_source_.push_back({source_vertex, histogram});
      registry = registry_;
      labels = labels_;
    }
  }
  if (registry) {
    labels.emplace_back("source_vertex", std::to_string(source_vertex));
    registry->Register("latencyUs", labels, histogram);
  }
  histogram->Record(latency_us);
}

std::vector<LatencyHistograms::BySource> LatencyHistograms::Snapshot() const {
  std::lock_guard lock(mutex_);
  return by_source_;
}

void LatencyHistograms::RegisterIn(MetricRegistry& registry, const MetricLabels& labels) {
  std::vector<BySource> existing;
  {
    std::lock_guard lock(mutex_);
    registry_ = &registry;
    labels_ = labels;
    existing = by_source_;
  }
  for (const auto& entry : existing) {
    MetricLabels with_source = labels;
    with_source.emplace_back("source_vertex", std::to_string(entry.source_vertex));
    registry.Register("latencyUs", with_source, entry.histogram);
  }
}

}  // namespace brook
