// StreamEnvironment: where a job's streams begin (sources) and its job-wide settings live.
// Building the job turns the streams into a JobGraph, which a MiniCluster or a cluster runs.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/jobs/data_stream.h"
#include "brook/jobs/job_graph.h"
#include "brook/operators/collection_source.h"
#include "brook/operators/file_source.h"
#include "brook/operators/generator_source.h"

namespace brook {

class StreamEnvironment {
 public:
  StreamEnvironment() = default;
  StreamEnvironment(const StreamEnvironment&) = delete;
  StreamEnvironment& operator=(const StreamEnvironment&) = delete;

  // Default parallelism of operators that set none.
  StreamEnvironment& setParallelism(int parallelism) {
    parallelism_ = parallelism;
    return *this;
  }
  int getParallelism() const { return parallelism_; }
  // Number of key groups: the upper bound of any keyed operator's parallelism, ever (rescaling
  // keeps it fixed). Unset, it is 128, or an operator's parallelism if that is larger.
  StreamEnvironment& setMaxParallelism(int max_parallelism) {
    max_parallelism_ = max_parallelism;
    return *this;
  }
  int getMaxParallelism() const { return max_parallelism_; }

  // Where keyed state lives: in memory (the default) or in LMDB under a working directory.
  StreamEnvironment& setStateBackend(StateBackendConfig config) {
    config_.state_backend = std::move(config);
    return *this;
  }
  // Checkpoints every `interval_ms`, with barriers aligned (exactly-once), unaligned or not
  // aligned at all (at-least-once), as Flink's env.enableCheckpointing(interval, mode).
  StreamEnvironment& enableCheckpointing(int64_t interval_ms,
                                         CheckpointingMode mode = CheckpointingMode::kAligned) {
    config_.checkpoint.interval_ms = interval_ms;
    config_.checkpoint.mode = mode;
    return *this;
  }
  CheckpointConfig& getCheckpointConfig() { return config_.checkpoint; }
  StreamEnvironment& setAutoWatermarkInterval(int64_t interval_ms) {
    config_.auto_watermark_interval_ms = interval_ms;
    return *this;
  }
  // Sources emit a latency marker every `interval_ms` (0: never); sinks record how long markers
  // took from their source (end-to-end latency histograms per source, in the metrics).
  // Unset, the cluster's metrics.latency.interval applies (off by default).
  StreamEnvironment& setLatencyTrackingInterval(int64_t interval_ms) {
    config_.latency_tracking_interval_ms = interval_ms;
    return *this;
  }
  const JobConfig& getConfig() const { return config_; }

  // Record i is fn(i) for i in [0, options.count): deterministic and replayable.
  // `timestamp_of(record)` gives the event time when set.
  template <typename F>
  auto fromGenerator(std::string name, F fn, GeneratorOptions options = {},
                     std::function<Timestamp(const std::invoke_result_t<F&, uint64_t>&)>
                         timestamp_of = {}) {
    using T = std::decay_t<std::invoke_result_t<F&, uint64_t>>;
    return fromSource<T>(std::move(name), [fn, options, timestamp_of] {
      return std::make_unique<GeneratorSource<T, F>>(fn, options, timestamp_of);
    });
  }

  template <typename T>
  DataStream<T> fromCollection(std::vector<T> elements, std::string name = "Collection") {
    auto shared = std::make_shared<const std::vector<T>>(std::move(elements));
    return fromSource<T>(std::move(name),
                         [shared] { return std::make_unique<CollectionSource<T>>(shared); });
  }

  // Lines of a text file, or of every file in a directory.
  DataStream<std::string> readTextFile(std::string path) {
    return fromSource<std::string>("File " + path,
                                   [path] { return std::make_unique<FileSource>(path); });
  }

  // A source made by `factory`, once per subtask; the operator must emit records of type T.
  template <typename T, typename Factory>
  DataStream<T> fromSource(std::string name, Factory factory) {
    StreamNode node;
    node.kind = "Source";
    node.name = std::move(name);
    node.is_source = true;
    node.factory = [factory]() -> std::unique_ptr<StreamOperatorBase> { return factory(); };
    node.output_type = TypeInfoFor<T>();
    NodeId id = graph_.AddNode(std::move(node)).id;
    return DataStream<T>(this, {detail::StreamPort{id, "", nullptr}}, id);
  }

  // Chains and validates what was built so far. Throws JobGraphError if it cannot run.
  JobGraph BuildJobGraph(std::string job_name) const {
    return JobGraph::Build(std::move(job_name), graph_, parallelism_, max_parallelism_, config_);
  }

  StreamGraph& graph() { return graph_; }

 private:
  StreamGraph graph_;
  JobConfig config_;
  int parallelism_ = 1;
  int max_parallelism_ = 0;  // 0: chosen per operator, see JobGraph::Build
};

inline StreamGraph& GraphOf(StreamEnvironment& env) { return env.graph(); }
inline int64_t AutoWatermarkIntervalOf(const StreamEnvironment& env) {
  return env.getConfig().auto_watermark_interval_ms;
}

}  // namespace brook
