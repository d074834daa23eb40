// Turns one subtask of a JobGraph vertex into a wired StreamTask: instantiates the chain's
// operators, connects them (chaining outputs inside the vertex, record writers on the channels
// leaving it, fan-outs where an output has several consumers) and puts an input in front (the
// source, or an input gate over the channels arriving). The MiniCluster and task managers share
// this code, so a job runs the same way in one process and across many.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "brook/jobs/job_graph.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/stream_task.h"

namespace brook {

// Finds the channels of a network edge for one subtask: on the producer side, the channels to
// every consumer subtask (just one for FORWARD); on the consumer side, from every producer.
class ChannelDirectory {
 public:
  virtual ~ChannelDirectory() = default;
  virtual std::vector<ChannelBase*> OutputChannels(const JobEdge& edge, int producer_subtask) = 0;
  virtual std::vector<ChannelBase*> InputChannels(const JobEdge& edge, int consumer_subtask) = 0;
};

struct DeploymentOptions {
  StreamTaskOptions task;
  size_t batch_size = kDefaultBatchSize;
  MetricRegistry* metrics = nullptr;  // where task metrics are registered, if set
  std::string job_id;                 // unique per job run: scopes operators' local state
  int attempt = 0;
  // Latency markers from sources when the job leaves the interval unset (JobConfig::
  // latency_tracking_interval_ms < 0): the cluster's metrics.latency.interval; 0: none.
  std::chrono::milliseconds default_latency_tracking_interval{0};
};

std::unique_ptr<StreamTask> DeploySubtask(const JobGraph& job, const JobVertex& vertex,
                                          int subtask, ChannelDirectory& channels,
                                          const DeploymentOptions& options);

}  // namespace brook
