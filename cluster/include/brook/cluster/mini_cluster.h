// MiniCluster: runs JobGraphs inside one process, with the same task code a task manager runs.
// Every subtask is a StreamTask on its own thread; vertices are connected by bounded local
// channels (one per producer/consumer subtask pair), so shuffles, backpressure, end of stream
// and cancellation behave as in a cluster.
//
// Threading: all methods are thread-safe. Life cycle: a job runs from Submit() until it
// finishes, fails or is cancelled; destroying the MiniCluster cancels and joins its jobs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "brook/cluster/job_result.h"
#include "brook/jobs/job_graph.h"
#include "brook/runtime/metrics.h"

namespace brook {

struct MiniClusterOptions {
  size_t channel_capacity = 8;  // batches queued per channel before the producer blocks
  size_t batch_size = kDefaultBatchSize;
  std::chrono::milliseconds buffer_timeout{100};
};

// A job running on a MiniCluster.
class RunningJob {
 public:
  virtual ~RunningJob() = default;
  virtual const JobGraph& graph() const = 0;
  // Unique among the jobs of this process (labels its metrics, scopes its local state).
  virtual const std::string& id() const = 0;
  virtual JobStatus status() const = 0;
  // Asks every subtask to stop; the job ends as kCanceled unless it already ended.
  virtual void Cancel() = 0;
  // Blocks until every subtask thread has ended.
  virtual JobResult Wait() = 0;
  // As Wait(), giving up after `timeout` (returns nullopt if still running).
  virtual std::optional<JobResult> WaitFor(std::chrono::milliseconds timeout) = 0;
  // Subtask threads still running.
  virtual int running_tasks() const = 0;
};

class MiniCluster {
 public:
  explicit MiniCluster(MiniClusterOptions options = {});
  ~MiniCluster();
  MiniCluster(const MiniCluster&) = delete;
  MiniCluster& operator=(const MiniCluster&) = delete;

  // Starts the job and returns at once.
  std::shared_ptr<RunningJob> Submit(JobGraph job);
  // Runs the job to its end.
  JobResult Execute(JobGraph job);

  MetricRegistry& metrics() { return metrics_; }

 private:
  MiniClusterOptions options_;
  MetricRegistry metrics_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<RunningJob>> jobs_;  // guarded by mutex_
};

}  // namespace brook
