// The logical graph a job's API calls build: one StreamNode per operator, one StreamEdge per
// connection, before chaining. Node ids are handed out in creation order, and an operator is
// always created after its inputs, so id order is a topological order.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "brook/runtime/checkpoint_barrier_handler.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/record_writer.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/type_info.h"

namespace brook {

enum class ChainingStrategy {
  kAlways,    // chain with the predecessor and successors when the edge allows
  kHead,      // start a new chain here (startNewChain), successors may chain
  kNever,     // never chain (disableChaining)
};

using OperatorFactory = std::function<std::unique_ptr<StreamOperatorBase>()>;

struct StreamNode {
  NodeId id;
  std::string kind;  // "Source", "Map", "Filter", "Sink", ...
  std::string name;
  std::string uid;
  int parallelism = 0;      // 0: the job's default
  int max_parallelism = 0;  // 0: the job's default
  bool is_source = false;
  ChainingStrategy chaining = ChainingStrategy::kAlways;
  OperatorFactory factory;
  std::shared_ptr<const TypeInfo> output_type;  // null for sinks
};

struct StreamEdge {
  NodeId source;
  NodeId target;
  std::string side_output_tag;  // empty: the main output
  std::shared_ptr<const TypeInfo> type;
  std::shared_ptr<const PartitionerFactory> partitioner;  // null: forward or rebalance
  // Makes the forward/rebalance partitioner for this edge's type when none was chosen.
  std::function<std::shared_ptr<const PartitionerFactory>(PartitionerFactory::Kind)>
      default_partitioner;
  int input_index = 0;  // which input of the target: 0, or 1 for the second of a two-input operator
};

// Job-wide settings that travel with the graph to every task.
// Periodic checkpoints (Flink's CheckpointConfig). The job manager's coordinator triggers them
// at the sources; tasks handle barriers in `mode`.
struct CheckpointConfig {
  int64_t interval_ms = 0;  // 0: checkpointing is off
  CheckpointingMode mode = CheckpointingMode::kAligned;
  int64_t timeout_ms = 600'000;  // a checkpoint not complete by then is aborted
  int64_t min_pause_ms = 0;      // between the end of one checkpoint and the next trigger
  int max_concurrent = 1;        // checkpoints in flight at once
  bool enabled() const { return interval_ms > 0; }
};

struct JobConfig {
  StateBackendConfig state_backend;
  CheckpointConfig checkpoint;
  // How often watermark assigners emit watermarks when records keep coming (Flink's
  // autoWatermarkInterval); an assigner also emits when its input goes quiet.
  int64_t auto_watermark_interval_ms = 200;
  // How often sources emit latency markers (Flink's latencyTrackingInterval): 0 turns latency
  // tracking off; -1 (unset) leaves it to the cluster's metrics.latency.interval, which is off
  // by default, as in Flink (markers cost little, but a histogram per source and sink).
  int64_t latency_tracking_interval_ms = -1;
};

class StreamGraph {
 public:
  StreamNode& AddNode(StreamNode node) {
    node.id = NodeId(static_cast<int32_t>(nodes_.size()));
    nodes_.push_back(std::move(node));
    return nodes_.back();
  }
  void AddEdge(StreamEdge edge) { edges_.push_back(std::move(edge)); }

  StreamNode& node(NodeId id) { return nodes_.at(size_t(id.value())); }
  const StreamNode& node(NodeId id) const { return nodes_.at(size_t(id.value())); }
  const std::vector<StreamNode>& nodes() const { return nodes_; }
  const std::vector<StreamEdge>& edges() const { return edges_; }

 private:
  std::vector<StreamNode> nodes_;
  std::vector<StreamEdge> edges_;
};

}  // namespace brook
