#include "brook/cluster/task_deployment.h"

#include <map>
#include <string>

#include "brook/runtime/check.h"

namespace brook {

namespace {

void AddNetworkBytes(const std::vector<ChannelBase*>& channels,
                     std::vector<std::shared_ptr<const Counter>>& counters) {
  for (const ChannelBase* channel : channels)
    if (auto bytes = channel->network_bytes()) counters.push_back(std::move(bytes));
}

std::shared_ptr<Counter> SumOf(std::vector<std::shared_ptr<const Counter>> counters) {
  return std::make_shared<Counter>([counters = std::move(counters)] {
    int64_t sum = 0;
    for (const auto& c : counters) sum += c->value();
    return sum;
  });
}

}  // namespace

std::unique_ptr<StreamTask> DeploySubtask(const JobGraph& job, const JobVertex& vertex,
                                          int subtask, ChannelDirectory& channels,
                                          const DeploymentOptions& options) {
  const std::string task_name =
      vertex.name + " (" + std::to_string(subtask + 1) + "/" + std::to_string(vertex.parallelism) + ")";
  StreamTaskOptions task_options = options.task;
  task_options.checkpointing_mode = job.config().checkpoint.mode;
  const StreamNode& head = job.node(vertex.head());
  if (head.is_source) {
    const int64_t interval = job.config().latency_tracking_interval_ms;
    task_options.latency_markers.interval =
        interval >= 0 ? std::chrono::milliseconds(interval) : options.default_latency_tracking_interval;
    task_options.latency_markers.source_vertex = vertex.id;
    task_options.latency_markers.source_subtask = SubtaskIndex(subtask);
  }
  auto task = std::make_unique<StreamTask>(task_name, task_options);
  const MetricLabels labels = {{"job", job.name()},
                               {"job_id", options.job_id},
                               {"vertex", std::to_string(vertex.id.value())},
                               {"subtask", std::to_string(subtask)}};

  // Instantiate the chain, head first.
  std::map<int32_t, StreamOperatorBase*> ops;
  for (NodeId id : vertex.nodes) {
    const StreamNode& node = job.node(id);
    RuntimeContext context;
    context.job_name = job.name();
    context.task_name = vertex.name;
    context.operator_name = node.name;
    // Checkpointed state is matched to operators by this id across runs: the uid, else the
    // node id (stable as long as the job's graph is built the same way).
    context.operator_id = node.uid.empty() ? "node-" + std::to_string(id.value()) : node.uid;
    context.subtask_index = subtask;
    context.parallelism = vertex.parallelism;
    context.max_parallelism = vertex.max_parallelism;
    context.attempt = options.attempt;
    context.metrics = options.metrics;
    context.metric_labels = labels;
    context.state_backend = job.config().state_backend;
    context.state_scope = (options.job_id.empty() ? job.name() : options.job_id) + "/op" +
                          std::to_string(id.value()) + "-" + std::to_string(subtask) + "-a" +
                          std::to_string(options.attempt);
    ops[id.value()] = task->AddOperator(node.factory(), std::move(context));
  }

  std::vector<std::shared_ptr<const Counter>> in_bytes, out_bytes;
  WriterOptions writer_options;
  writer_options.subtask_index = subtask;
  writer_options.batch_size = options.batch_size;
  writer_options.metrics = &task->metrics();

  // Wire each operator's outputs: main output and each side output used by an edge.
  for (NodeId id : vertex.nodes) {
    const StreamNode& node = job.node(id);
    std::map<std::string, std::vector<OutputBase*>> targets;
    std::map<std::string, std::shared_ptr<const TypeInfo>> types;
    for (const JobEdge* edge : job.OutputsOf(id)) {
      types[edge->side_output_tag] = edge->type;
      auto& outs = targets[edge->side_output_tag];
      if (edge->chained) {
        outs.push_back(task->AddOutput(edge->type->MakeChainingOutput(ops.at(edge->target.value()))));
      } else {
        WriterOptions wo = writer_options;
        wo.max_parallelism = job.vertex(edge->target_vertex).max_parallelism;
        auto out_channels = channels.OutputChannels(*edge, subtask);
        auto writer = edge->partitioner->MakeWriter(out_channels, wo);
        outs.push_back(&task->AddWriter(std::move(writer), out_channels)->AsOutput());
        AddNetworkBytes(out_channels, out_bytes);
      }
    }
    StreamOperatorBase* op = ops.at(id.value());
    for (auto& [tag, outs] : targets) {
      OutputBase* output = outs.size() == 1 ? outs[0] : task->AddOutput(types[tag]->MakeFanOut(outs));
      if (tag.empty()) op->SetMainOutput(output);
      else op->AddSideOutput(tag, output);
    }
    if (!targets.contains("") && node.output_type)
      op->SetMainOutput(task->AddOutput(node.output_type->MakeDiscardingOutput()));
  }

  // The input: the source itself, or a gate over every channel arriving at this subtask.
  StreamOperatorBase* head_op = ops.at(vertex.head().value());
  if (head.is_source) {
    auto* source = dynamic_cast<SourceOperatorBase*>(head_op);
    BROOK_CHECK(source != nullptr, "a source node must make a source operator");
    task->SetInput(std::make_unique<SourceInput>(source), {});
  } else {
    // One gate per input of the head operator (two for connect and joins).
    auto inputs = job.InputsOf(vertex.id);
    BROOK_CHECK(!inputs.empty(), "a non-source vertex needs inputs");
    std::vector<ChannelBase*> all_channels;
    std::vector<std::unique_ptr<TaskInput>> gates;
    for (int index = 0; index < 2; ++index) {
      std::vector<ChannelBase*> in_channels;
      std::shared_ptr<const TypeInfo> type;
      for (const JobEdge* edge : inputs) {
        if (edge->input_index != index) continue;
        type = edge->type;
        auto c = channels.InputChannels(*edge, subtask);
        in_channels.insert(in_channels.end(), c.begin(), c.end());
      }
      if (!type) continue;
      OutputBase* head_input = task->AddOutput(type->MakeChainingOutput(head_op, index));
      gates.push_back(type->MakeInputGate(in_channels, head_input, &task->metrics()));
      all_channels.insert(all_channels.end(), in_channels.begin(), in_channels.end());
    }
    AddNetworkBytes(all_channels, in_bytes);
    if (gates.size() == 1) {
      task->SetInput(std::move(gates[0]), all_channels);
    } else {
      task->SetInput(std::make_unique<TwoGateInput>(std::move(gates[0]), std::move(gates[1])),
                     all_channels);
    }
  }
  // Bytes in and out are the sums over the task's network channels; the channels' counters are
  // shared, so the sums stay readable by reporters after the channels are gone.
  if (!in_bytes.empty()) task->metrics().bytes_in = SumOf(std::move(in_bytes));
  if (!out_bytes.empty()) task->metrics().bytes_out = SumOf(std::move(out_bytes));
  if (options.metrics) task->metrics().RegisterIn(*options.metrics, labels);
  return task;
}

}  // namespace brook
