#include "cluster/src/server/prometheus_text.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cluster/src/server/job_manager_core.h"

namespace brook {

namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// Prometheus names allow [a-zA-Z_:][a-zA-Z0-9_:]*, and its convention (which promtool checks)
// is snake_case: numRecordsIn becomes num_records_in.
std::string SanitizeName(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c)) {
      if (i > 0 && !out.empty() && out.back() != '_') out += '_';
      out += char(std::tolower(c));
    } else {
      out += (std::isalnum(c) || c == '_' || c == ':') ? char(c) : '_';
    }
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

}  // namespace

void PrometheusText::Family(const std::string& name, const std::string& type, const std::string& help) {
  if (families_.count(name)) return;
  order_.push_back(name);
  families_[name] = {type, help, {}};
}

void PrometheusText::Sample(const std::string& name, const Labels& labels, double value) {
  // Histogram/summary samples (_bucket, _sum, _count) belong to their base family.
  std::string family = name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (!families_.count(family) && family.size() > s.size() &&
        family.compare(family.size() - s.size(), s.size(), s) == 0)
      family = family.substr(0, family.size() - s.size());
  }
  if (!families_.count(family)) Family(family, "untyped", family);
  std::string& out = families_[family].samples;
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ',';
      out += SanitizeName(labels[i].first) + "=\"" + Escape(labels[i].second) + '"';
    }
    out += '}';
  }
  out += ' ' + Number(value) + '\n';
}

void PrometheusText::HistogramSamples(const std::string& name, const Labels& labels,
                                      const std::vector<int64_t>& bucket_counts, int64_t count,
                                      double sum, double unit) {
  int64_t cumulative = 0;
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    if (size_t(i) < bucket_counts.size()) cumulative += bucket_counts[size_t(i)];
    auto bucket = labels;
    char bound[32];
    std::snprintf(bound, sizeof bound, "%.6g", double(Histogram::BucketUpperBound(i)) * unit);
    bucket.emplace_back("le", bound);
    Sample(name + "_bucket", bucket, double(cumulative));
  }
  auto inf = labels;
  inf.emplace_back("le", "+Inf");
  // The total, not the sum of the buckets: a histogram updated while read may be a little ahead
  // in its count, and +Inf must never be below any finite bucket.
  Sample(name + "_bucket", inf, double(std::max(count, cumulative)));
  Sample(name + "_sum", labels, sum);
  Sample(name + "_count", labels, double(std::max(count, cumulative)));
}

void PrometheusText::Process(const std::string& prefix, const ProcessStats& stats) {
  Family(prefix + "_process_resident_memory_bytes", "gauge", "Resident set size of the process.");
  Sample(prefix + "_process_resident_memory_bytes", {}, double(stats.rss_bytes));
  Family(prefix + "_process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
  Sample(prefix + "_process_cpu_seconds_total", {}, stats.cpu_seconds);
}

std::string PrometheusText::str() const {
  std::string out;
  for (const auto& name : order_) {
    const FamilyText& f = families_.at(name);
    if (f.samples.empty()) continue;
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n" + f.samples;
  }
  return out;
}

std::string JobManagerPrometheusText(const JobManagerCore& core, const ProcessStats& process) {
  PrometheusText text;
  text.Process("brook_jobmanager", process);
  text.Family("brook_jobmanager_taskmanagers", "gauge", "Registered task managers.");
  text.Sample("brook_jobmanager_taskmanagers", {}, double(core.task_managers().size()));
  text.Family("brook_jobmanager_slots", "gauge", "Slots offered by registered task managers.");
  text.Sample("brook_jobmanager_slots", {}, core.slots().total_slots());
  text.Family("brook_jobmanager_slots_available", "gauge", "Free slots.");
  text.Sample("brook_jobmanager_slots_available", {}, core.slots().free_slots());
  text.Family("brook_jobmanager_jobs", "gauge", "Jobs by state.");
  std::map<std::string, int> by_state;
  for (const char* s : {"CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "FINISHED", "FAILED", "CANCELED"})
    by_state[s] = 0;
  for (const auto& [id, job] : core.jobs()) ++by_state[JobStateName(job->state)];
  for (const auto& [state, n] : by_state) text.Sample("brook_jobmanager_jobs", {{"state", state}}, n);

  text.Family("brook_job_restarts_total", "counter", "Restarts of a job.");
  text.Family("brook_task_records_in_total", "counter", "Records a subtask received.");
  text.Family("brook_task_records_out_total", "counter", "Records a subtask emitted.");
  text.Family("brook_task_bytes_in_total", "counter", "Bytes a subtask received from the network.");
  text.Family("brook_task_bytes_out_total", "counter", "Bytes a subtask sent over the network.");
  text.Family("brook_task_busy_seconds_total", "counter", "Time a subtask spent processing.");
  text.Family("brook_task_backpressured_seconds_total", "counter", "Time a subtask waited for output capacity.");
  text.Family("brook_task_out_pool_usage", "gauge", "How full a subtask's output channels are, 0 to 1.");
  text.Family("brook_task_in_pool_usage", "gauge", "How full a subtask's input channels are, 0 to 1.");
  text.Family("brook_task_latency_seconds", "histogram",
              "Source-to-sink latency of the latency markers that reached a subtask, by source vertex.");
  text.Family("brook_task_watermark_timestamp_seconds", "gauge", "Current input watermark of a subtask (event time).");
  text.Family("brook_task_watermark_lag_seconds", "gauge", "Wall clock minus a subtask's watermark.");
  text.Family("brook_job_checkpoints_completed_total", "counter", "Completed checkpoints of a job.");
  text.Family("brook_job_checkpoints_failed_total", "counter", "Failed or aborted checkpoints of a job.");
  text.Family("brook_job_last_checkpoint_duration_seconds", "gauge", "Trigger to completion of the latest completed checkpoint.");
  text.Family("brook_job_last_checkpoint_size_bytes", "gauge", "State size of the latest completed checkpoint.");
  text.Family("brook_job_last_checkpoint_alignment_seconds", "gauge", "Slowest task's barrier alignment in the latest completed checkpoint.");
  for (const auto& id : core.job_order()) {
    const JobRecord& job = *core.jobs().at(id);
    const PrometheusText::Labels job_labels = {{"job", job.name}, {"job_id", job.id}};
    text.Sample("brook_job_restarts_total", job_labels, job.restarts);
    text.Sample("brook_job_checkpoints_completed_total", job_labels, job.checkpoints.completed);
    text.Sample("brook_job_checkpoints_failed_total", job_labels, job.checkpoints.failed);
    if (const auto& latest = job.checkpoints.latest_completed) {
      text.Sample("brook_job_last_checkpoint_duration_seconds", job_labels, double(latest->duration_ms) / 1e3);
      text.Sample("brook_job_last_checkpoint_size_bytes", job_labels, double(latest->state_size));
      text.Sample("brook_job_last_checkpoint_alignment_seconds", job_labels, double(latest->alignment_ms) / 1e3);
    }
    if (IsTerminal(job.state)) continue;
    for (const auto& [where, sub] : job.subtasks) {
      const PrometheusText::Labels labels = {{"job", job.name},
                                             {"job_id", job.id},
                                             {"vertex", job.graph->vertex(VertexId(where.first)).name},
                                             {"subtask", std::to_string(where.second)},
                                             {"taskmanager", sub.task_manager}};
      const auto& m = sub.metrics;
      text.Sample("brook_task_records_in_total", labels, double(m.records_in));
      text.Sample("brook_task_records_out_total", labels, double(m.records_out));
      text.Sample("brook_task_bytes_in_total", labels, double(m.bytes_in));
      text.Sample("brook_task_bytes_out_total", labels, double(m.bytes_out));
      text.Sample("brook_task_busy_seconds_total", labels, double(m.busy_ns) / 1e9);
      text.Sample("brook_task_backpressured_seconds_total", labels, double(m.backpressure_ns) / 1e9);
      text.Sample("brook_task_out_pool_usage", labels, m.out_pool_usage);
      text.Sample("brook_task_in_pool_usage", labels, m.in_pool_usage);
      for (const LatencyView& latency : m.latency) {
        auto with_source = labels;
        const bool known = latency.source_vertex >= 0 &&
                           size_t(latency.source_vertex) < job.graph->vertices().size();
        with_source.emplace_back("source_vertex",
                                 known ? job.graph->vertex(VertexId(latency.source_vertex)).name
                                       : std::to_string(latency.source_vertex));
        text.HistogramSamples("brook_task_latency_seconds", with_source, latency.buckets,
                              latency.count, double(latency.sum_us) / 1e6, 1e-6);
      }
      if (m.watermark != INT64_MIN && m.watermark != INT64_MAX) {
        text.Sample("brook_task_watermark_timestamp_seconds", labels, double(m.watermark) / 1e3);
        text.Sample("brook_task_watermark_lag_seconds", labels, double(NowMillis() - m.watermark) / 1e3);
      }
    }
  }
  return text.str();
}

// Registry names carry Flink's unit suffixes (busyTimeNs, latencyUs); Prometheus wants base
// units (promtool's lint refuses abbreviated ones): busyTimeNs becomes busy_time_seconds.
std::pair<std::string, double> InBaseUnit(const std::string& name) {
  static const std::pair<const char*, double> kSuffixes[] = {{"Ns", 1e-9}, {"Us", 1e-6}, {"Ms", 1e-3}};
  for (const auto& [suffix, scale] : kSuffixes) {
    const size_t n = std::strlen(suffix);
    if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0)
      return {name.substr(0, name.size() - n) + "Seconds", scale};
  }
  return {name, 1.0};
}

std::string RegistryPrometheusText(const MetricRegistry& registry, const ProcessStats& process) {
  PrometheusText text;
  text.Process("brook_taskmanager", process);
  // In place, under the registry's lock: a job's metrics may be removed meanwhile, and must not
  // outlive that here (its library, which made some of them, is unloaded next).
  registry.ForEach([&](const MetricEntry& entry) {
    const auto [base_name, scale] = InBaseUnit(entry.name);
    const std::string name = "brook_" + SanitizeName(base_name);
    const PrometheusText::Labels labels(entry.labels.begin(), entry.labels.end());
    if (auto* counter = std::get_if<std::shared_ptr<Counter>>(&entry.metric)) {
      const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
      const std::string counter_name = total ? name : name + "_total";
      text.Family(counter_name, "counter", entry.name);
      text.Sample(counter_name, labels, double((*counter)->value()) * scale);
    } else if (auto* gauge = std::get_if<std::shared_ptr<Gauge>>(&entry.metric)) {
      text.Family(name, "gauge", entry.name);
      text.Sample(name, labels, (*gauge)->value() * scale);
    } else if (auto* histogram = std::get_if<std::shared_ptr<Histogram>>(&entry.metric)) {
      const auto& h = **histogram;
      text.Family(name, "histogram", entry.name);
      // Count first: the buckets read after it are at least as far along.
      const int64_t count = h.count();
      std::vector<int64_t> buckets(Histogram::kBuckets);
      for (int i = 0; i < Histogram::kBuckets; ++i) buckets[size_t(i)] = h.BucketCount(i);
      text.HistogramSamples(name, labels, buckets, count, double(h.sum()) * scale, scale);
    }
  });
  return text.str();
}

}  // namespace brook
