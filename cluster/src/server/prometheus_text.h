// Prometheus text exposition format (version 0.0.4) for the job manager's and task managers'
// GET /metrics. Families are written with HELP and TYPE once; label values are escaped.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "brook/cluster/server/process_stats.h"
#include "brook/runtime/metrics.h"

namespace brook {

class JobManagerCore;

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Declares a family; samples of it may follow in any order (they are grouped on output).
  void Family(const std::string& name, const std::string& type, const std::string& help);
  void Sample(const std::string& name, const Labels& labels, double value);
  // The samples of one histogram of brook::Histogram's buckets (bucket_counts[i] for bucket i,
  // missing ones empty): cumulative _bucket{le} for every bucket and +Inf, _sum and _count.
  // `unit` scales bucket bounds (a histogram of microseconds exported in seconds: 1e-6); `sum`
  // is already in the exported unit.
  void HistogramSamples(const std::string& name, const Labels& labels,
                        const std::vector<int64_t>& bucket_counts, int64_t count, double sum,
                        double unit);
  // Adds the process's own families (RSS, CPU seconds).
  void Process(const std::string& prefix, const ProcessStats& stats);
  std::string str() const;

 private:
  struct FamilyText {
    std::string type, help;
    std::string samples;
  };
  std::vector<std::string> order_;
  std::map<std::string, FamilyText> families_;
};

std::string JobManagerPrometheusText(const JobManagerCore& core, const ProcessStats& process);
// A task manager's registry (every subtask's metrics, labelled job/job_id/vertex/subtask).
std::string RegistryPrometheusText(const MetricRegistry& registry, const ProcessStats& process);

}  // namespace brook
