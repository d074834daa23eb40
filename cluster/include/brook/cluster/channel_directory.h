// NetworkChannelDirectory: the channels of one job for the subtasks deployed in this process.
// The MiniCluster places every subtask here; a task manager places the subtasks the job manager
// gave it, and knows where the others run. Every channel of a network edge (producer subtask p,
// consumer subtask c; FORWARD edges only p == c) becomes, from this process's point of view:
//
//   producer here,  consumer here   -> one LocalChannel<T>, shared by both tasks
//   producer here,  consumer remote -> NetworkChannelSender<T>
//   producer remote, consumer here  -> NetworkChannelReceiver<T> naming the producer's address
//   both remote                     -> nothing (another process's business)
//
// All channels are made by the constructor, so a job that cannot run here (a record type
// without a Serde crossing processes, a remote subtask without a NetworkEnvironment) fails
// before any task exists, and the failed construction leaves nothing behind.
//
// Threading: constant after construction; OutputChannels/InputChannels from any thread (they
// only read), Cancel() from any thread. The channels themselves follow their own contracts (one
// producer thread, one consumer thread).
//
// Life cycle: construct -> DeploySubtask(...) for every local subtask -> run the task threads
// -> threads ended -> destroy the directory -> destroy the tasks.
//   - The directory owns the channels; tasks hold plain pointers to them, so it must outlive
//     the task threads. On cancellation, StreamTask::Cancel() cancels the channels of its task;
//     Cancel() here cancels every channel at once, which also wakes a task blocked on a channel
//     whose other end is in another process.
//   - Destroy it before the StreamTasks, once their threads have ended: a network receiver has
//     its consumer task's notifier registered, and the environment's threads may poke it until
//     the receiver is destroyed. A channel destroyed before its end of partition tells the peer
//     process, whose end of it then fails (its task fails rather than waits forever).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "brook/cluster/task_deployment.h"
#include "brook/jobs/job_graph.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/network/channel_id.h"

namespace brook {

class NetworkEnvironment;

// Where one subtask of a job runs, seen from this process.
struct SubtaskPlace {
  // Empty: in this process. Otherwise the address of the NetworkEnvironment of the process
  // running it (only consumers use it, to request their channels from the producer).
  std::optional<PeerAddress> remote;

  static SubtaskPlace Local() { return {}; }
  static SubtaskPlace At(PeerAddress address) { return {std::move(address)}; }
  bool is_local() const { return !remote.has_value(); }
};

// Tells, for every subtask (vertex, subtask index) of the job, where it runs. Called only from
// the directory's constructor.
using SubtaskPlacement = std::function<SubtaskPlace(VertexId vertex, int subtask)>;

struct ChannelDirectoryOptions {
  // Names the job's channels on the network. REQUIRES: the same in every process of one
  // execution attempt, and new for every attempt (see ChannelId).
  JobId network_job;
  size_t channel_capacity = 8;  // batches queued per local channel before the producer blocks
  size_t batch_size = kDefaultBatchSize;
};

class NetworkChannelDirectory final : public ChannelDirectory {
 public:
  // Makes every channel with an end in this process. `network` may be null when no subtask is
  // remote. Throws std::invalid_argument with the reason (and makes nothing) if the placement
  // needs a network but there is none, or a record type crossing processes has no Serde.
  // REQUIRES: `job` outlives the directory, and DeploySubtask is given this same JobGraph
  // object (edges are identified by their address in it); `network`, if set, is started.
  NetworkChannelDirectory(const JobGraph& job, const SubtaskPlacement& placement,
                          NetworkEnvironment* network, const ChannelDirectoryOptions& options);
  ~NetworkChannelDirectory() override;
  NetworkChannelDirectory(const NetworkChannelDirectory&) = delete;
  NetworkChannelDirectory& operator=(const NetworkChannelDirectory&) = delete;

  // The subtasks placed in this process, in vertex order: what the caller deploys.
  const std::vector<std::pair<VertexId, int>>& local_subtasks() const { return local_subtasks_; }
  bool is_local(VertexId vertex, int subtask) const;

  // Channels made, by kind (tests, metrics).
  size_t local_channel_count() const { return local_channels_; }
  size_t network_sender_count() const { return senders_; }
  size_t network_receiver_count() const { return receivers_; }

  // ChannelDirectory. Producer side: one channel per consumer subtask, in consumer order (the
  // record writer partitions by position), just one for FORWARD. Consumer side: one per
  // producer subtask. Throw std::invalid_argument if the subtask is not placed here or the edge
  // is not one of this JobGraph's network edges.
  std::vector<ChannelBase*> OutputChannels(const JobEdge& edge, int producer_subtask) override;
  std::vector<ChannelBase*> InputChannels(const JobEdge& edge, int consumer_subtask) override;

  // Cancels every channel: blocked producers and consumers wake (TaskCancelled). Idempotent.
  void Cancel();

 private:
  // (edge index, producer subtask, consumer subtask)
  using ChannelKey = std::tuple<size_t, int, int>;

  size_t EdgeIndexOf(const JobEdge& edge) const;
  void CheckLocal(VertexId vertex, int subtask, const char* side) const;

  const JobGraph& job_;
  std::vector<std::vector<bool>> local_;  // [vertex index][subtask]
  std::vector<std::pair<VertexId, int>> local_subtasks_;
  std::map<ChannelKey, std::unique_ptr<ChannelBase>> channels_;
  size_t local_channels_ = 0;
  size_t senders_ = 0;
  size_t receivers_ = 0;
};

}  // namespace brook
