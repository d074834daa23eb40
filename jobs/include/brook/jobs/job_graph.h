// The JobGraph: the stream graph with operators chained into vertices. A vertex runs as
// `parallelism` subtasks, each a StreamTask running the vertex's chain on one thread. Edges
// inside a vertex are chained (direct calls); edges between vertices go through channels with
// a partitioner.
//
// Chaining follows Flink: B chains onto its predecessor A when B has exactly one input, the
// edge is FORWARD, both have the same parallelism, and neither disables chaining.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "brook/jobs/stream_graph.h"

namespace brook {

struct JobVertex {
  VertexId id;
  std::string name;  // "Source: clicks -> Map -> Filter"
  int parallelism = 1;
  int max_parallelism = 128;
  std::vector<NodeId> nodes;  // the chain, head first, in topological order
  NodeId head() const { return nodes.front(); }
};

struct JobEdge {
  NodeId source;
  NodeId target;
  VertexId source_vertex;
  VertexId target_vertex;
  std::string side_output_tag;  // empty: main output
  std::shared_ptr<const TypeInfo> type;
  std::shared_ptr<const PartitionerFactory> partitioner;
  int input_index = 0;
  bool chained = false;
};

// A job that cannot run as built (a forward edge between different parallelisms, say).
class JobGraphError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr int kDefaultMaxParallelism = 128;
inline constexpr int kMaxMaxParallelism = 1 << 15;

class JobGraph {
 public:
  // Chains and validates `graph`; `parallelism` and `max_parallelism` are the job's defaults
  // (max_parallelism 0: per operator, 128 or its parallelism if larger).
  // Throws JobGraphError when the graph cannot run.
  static JobGraph Build(std::string job_name, const StreamGraph& graph, int parallelism,
                        int max_parallelism, JobConfig config = {});

  const JobConfig& config() const { return config_; }

  const std::string& name() const { return name_; }
  const std::vector<StreamNode>& nodes() const { return nodes_; }
  const StreamNode& node(NodeId id) const { return nodes_.at(size_t(id.value())); }
  const std::vector<JobVertex>& vertices() const { return vertices_; }
  const JobVertex& vertex(VertexId id) const { return vertices_.at(size_t(id.value())); }
  const std::vector<JobEdge>& edges() const { return edges_; }
  VertexId VertexOf(NodeId node) const { return node_vertex_.at(size_t(node.value())); }

  // Edges between vertices that end at `vertex`.
  std::vector<const JobEdge*> InputsOf(VertexId vertex) const;
  // Edges (chained and not) that leave `node`.
  std::vector<const JobEdge*> OutputsOf(NodeId node) const;

  // A readable description: vertices with their chains and parallelism, and edges.
  std::string Describe() const;

 private:
  std::string name_;
  JobConfig config_;
  std::vector<StreamNode> nodes_;
  std::vector<JobVertex> vertices_;
  std::vector<JobEdge> edges_;
  std::vector<VertexId> node_vertex_;
};

}  // namespace brook
