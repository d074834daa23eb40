// Prometheus text of a task manager's registry: Flink's unit suffixes become base units with
// scaled values, histograms are cumulative with _sum and _count, and Debian's promtool (the
// reference parser and linter) accepts the result.
#include "cluster/src/server/prometheus_text.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace brook {
namespace {

// The value of the one sample line that starts with `prefix`; NaN if there is none.
double SampleValue(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  return std::nan("");
}

int PromtoolExitCode(const std::string& metrics, std::string* output) {
  const auto input = std::filesystem::temp_directory_path() /
                     ("brook-prometheus-text-" + std::to_string(::getpid()));
  std::ofstream(input) << metrics;
  FILE* pipe = ::popen(("promtool check metrics < " + input.string() + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output->append(buffer, n);
  const int status = ::pclose(pipe);
  std::filesystem::remove(input);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PrometheusText, TaskMetricsAreInBaseUnitsAndPassPromtool) {
  MetricRegistry registry;
  TaskIoMetrics task;
  task.RegisterIn(registry, {{"job", "j"}, {"vertex", "1"}, {"subtask", "0"}});
  task.busy_ns->Inc(2'500'000'000);
  task.bytes_out->Inc(4096);
  task.out_pool_usage->Set(0.25);
  task.last_alignment_ns->Set(3e6);
  task.latency->Record(0, 3);        // bucket [2, 4)
  task.latency->Record(0, 1500);     // bucket [1024, 2048)
  task.latency->Record(0, 1500);

  ProcessStats process;
  const std::string text = RegistryPrometheusText(registry, process);
  const std::string labels = R"({job="j",vertex="1",subtask="0"})";
  EXPECT_EQ(SampleValue(text, "brook_busy_time_seconds_total" + labels), 2.5) << text;
  EXPECT_EQ(SampleValue(text, "brook_num_bytes_out_total" + labels), 4096) << text;
  EXPECT_EQ(SampleValue(text, "brook_out_pool_usage" + labels), 0.25) << text;
  EXPECT_DOUBLE_EQ(SampleValue(text, "brook_last_checkpoint_alignment_seconds" + labels), 0.003);
  // No family keeps an abbreviated unit as a word of its name.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7) + "_";
    for (const char* unit : {"_ns_", "_us_", "_ms_"})
      EXPECT_EQ(name.find(unit), std::string::npos) << line;
  }

  // Microsecond buckets exported in seconds, cumulative: le 3e-06 holds the 3 µs marker, le
  // 0.001023 does not hold the 1500 µs ones yet, le 0.002047 holds all three.
  const std::string latency = R"(brook_latency_seconds_bucket{job="j",vertex="1",subtask="0",source_vertex="0",)";
  EXPECT_EQ(SampleValue(text, latency + R"(le="3e-06"})"), 1) << text;
  EXPECT_EQ(SampleValue(text, latency + R"(le="0.001023"})"), 1) << text;
  EXPECT_EQ(SampleValue(text, latency + R"(le="0.002047"})"), 3) << text;
  EXPECT_EQ(SampleValue(text, latency + R"(le="+Inf"})"), 3) << text;
  const std::string series = R"({job="j",vertex="1",subtask="0",source_vertex="0"})";
  EXPECT_EQ(SampleValue(text, "brook_latency_seconds_count" + series), 3) << text;
  EXPECT_DOUBLE_EQ(SampleValue(text, "brook_latency_seconds_sum" + series), 0.003003);
  EXPECT_NE(text.find("# TYPE brook_latency_seconds histogram"), std::string::npos) << text;

  std::string report;
  EXPECT_EQ(PromtoolExitCode(text, &report), 0) << report << "\n" << text;
}

TEST(PrometheusText, HistogramBucketsNeverDecreaseAndInfHoldsTheCount) {
  PrometheusText text;
  text.Family("h_seconds", "histogram", "h");
  // A count read ahead of its buckets (a histogram updated while read): +Inf is the count.
  text.HistogramSamples("h_seconds", {}, {0, 2, 0, 1}, 5, 0.1, 1e-3);
  const std::string out = text.str();
  EXPECT_EQ(SampleValue(out, R"(h_seconds_bucket{le="0"})"), 0) << out;
  EXPECT_EQ(SampleValue(out, R"(h_seconds_bucket{le="0.001"})"), 2) << out;
  EXPECT_EQ(SampleValue(out, R"(h_seconds_bucket{le="0.007"})"), 3) << out;
  EXPECT_EQ(SampleValue(out, R"(h_seconds_bucket{le="+Inf"})"), 5) << out;
  EXPECT_EQ(SampleValue(out, "h_seconds_count"), 5) << out;
  std::string report;
  EXPECT_EQ(PromtoolExitCode(out, &report), 0) << report << "\n" << out;
}

}  // namespace
}  // namespace brook
