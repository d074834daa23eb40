#include "brook/jobs/job_graph.h"

#include <algorithm>
#include <sstream>

namespace brook {

namespace {

bool Chainable(const StreamNode& up, const StreamNode& down, const StreamEdge& edge,
               int inputs_of_down) {
  return inputs_of_down == 1 && !down.is_source &&
         edge.partitioner->kind() == PartitionerFactory::Kind::kForward &&
         up.parallelism == down.parallelism && up.max_parallelism == down.max_parallelism &&
         up.chaining != ChainingStrategy::kNever && down.chaining == ChainingStrategy::kAlways;
}

std::string OperatorLabel(const StreamNode& node) {
  if (node.is_source) return "Source: " + node.name;
  if (node.kind == "Sink") return "Sink: " + node.name;
  return node.name;
}

}  // namespace

JobGraph JobGraph::Build(std::string job_name, const StreamGraph& graph, int parallelism,
                         int max_parallelism, JobConfig config) {
  if (parallelism < 1) throw JobGraphError("job parallelism must be at least 1");
  if (max_parallelism < 0 || max_parallelism > kMaxMaxParallelism)
    throw JobGraphError("max parallelism must be in [1, " + std::to_string(kMaxMaxParallelism) +
                        "]");
  if (graph.nodes().empty()) throw JobGraphError("job '" + job_name + "' has no operators");

  JobGraph job;
  job.name_ = std::move(job_name);
  job.config_ = std::move(config);
  job.nodes_ = graph.nodes();
  for (auto& node : job.nodes_) {
    if (node.parallelism == 0) node.parallelism = parallelism;
    if (node.max_parallelism == 0) {
      // As Flink: an explicit job-wide value, or at least 128 and never below the parallelism.
      node.max_parallelism =
          max_parallelism > 0 ? max_parallelism : std::max(kDefaultMaxParallelism, node.parallelism);
    }
    if (node.parallelism < 1) throw JobGraphError("operator '" + node.name + "': parallelism < 1");
    if (node.parallelism > node.max_parallelism)
      throw JobGraphError("operator '" + node.name + "': parallelism " +
                          std::to_string(node.parallelism) + " exceeds max parallelism " +
                          std::to_string(node.max_parallelism));
  }

  // Resolve partitioners: unset means forward between equal parallelisms, else rebalance.
  std::vector<StreamEdge> edges = graph.edges();
  std::vector<int> inputs(job.nodes_.size(), 0);
  for (auto& edge : edges) {
    const auto& up = job.node(edge.source);
    const auto& down = job.node(edge.target);
    if (!edge.partitioner) {
      edge.partitioner = edge.default_partitioner(up.parallelism == down.parallelism
                                                      ? PartitionerFactory::Kind::kForward
                                                      : PartitionerFactory::Kind::kRebalance);
    } else if (edge.partitioner->kind() == PartitionerFactory::Kind::kForward &&
               up.parallelism != down.parallelism) {
      throw JobGraphError("forward edge from '" + up.name + "' (parallelism " +
                          std::to_string(up.parallelism) + ") to '" + down.name +
                          "' (parallelism " + std::to_string(down.parallelism) +
                          ") needs equal parallelism; use rebalance()");
    }
    ++inputs[size_t(edge.target.value())];
  }
  for (const auto& node : job.nodes_) {
    if (!node.is_source && inputs[size_t(node.id.value())] == 0)
      throw JobGraphError("operator '" + node.name + "' has no input");
  }

  // Assign nodes to vertices in id (topological) order.
  job.node_vertex_.assign(job.nodes_.size(), VertexId(-1));
  for (const auto& node : job.nodes_) {
    const StreamEdge* in = nullptr;
    for (const auto& e : edges)
      if (e.target == node.id) in = &e;
    const int n_inputs = inputs[size_t(node.id.value())];
    if (in && Chainable(job.node(in->source), node, *in, n_inputs)) {
      VertexId v = job.node_vertex_[size_t(in->source.value())];
      job.node_vertex_[size_t(node.id.value())] = v;
      job.vertices_[size_t(v.value())].nodes.push_back(node.id);
      continue;
    }
    JobVertex vertex;
    vertex.id = VertexId(static_cast<int32_t>(job.vertices_.size()));
    vertex.parallelism = node.parallelism;
    vertex.max_parallelism = node.max_parallelism;
    vertex.nodes.push_back(node.id);
    job.node_vertex_[size_t(node.id.value())] = vertex.id;
    job.vertices_.push_back(std::move(vertex));
  }
  for (auto& vertex : job.vertices_) {
    for (size_t i = 0; i < vertex.nodes.size(); ++i)
      vertex.name += (i ? " -> " : "") + OperatorLabel(job.node(vertex.nodes[i]));
  }

  for (auto& e : edges) {
    JobEdge edge;
    edge.source = e.source;
    edge.target = e.target;
    edge.source_vertex = job.VertexOf(e.source);
    edge.target_vertex = job.VertexOf(e.target);
    edge.side_output_tag = e.side_output_tag;
    edge.type = e.type;
    edge.partitioner = e.partitioner;
    edge.input_index = e.input_index;
    edge.chained = edge.source_vertex == edge.target_vertex;
    job.edges_.push_back(std::move(edge));
  }
  return job;
}

std::vector<const JobEdge*> JobGraph::InputsOf(VertexId vertex) const {
  std::vector<const JobEdge*> result;
  for (const auto& e : edges_)
    if (!e.chained && e.target_vertex == vertex) result.push_back(&e);
  return result;
}

std::vector<const JobEdge*> JobGraph::OutputsOf(NodeId node) const {
  std::vector<const JobEdge*> result;
  for (const auto& e : edges_)
    if (e.source == node) result.push_back(&e);
  return result;
}

std::string JobGraph::Describe() const {
  std::ostringstream out;
  out << "Job '" << name_ << "'\n";
  for (const auto& v : vertices_)
    out << "  vertex " << v.id.value() << ": " << v.name << " (parallelism " << v.parallelism
        << ")\n";
  for (const auto& e : edges_) {
    if (e.chained) continue;
    out << "  " << e.source_vertex.value() << " -> " << e.target_vertex.value() << " "
        << e.partitioner->name();
    if (!e.side_output_tag.empty()) out << " [side output " << e.side_output_tag << "]";
    out << "\n";
  }
  return out.str();
}

}  // namespace brook
