#include "brook/cluster/mini_cluster.h"

#include <unistd.h>

#include <atomic>
#include <thread>

#include "brook/cluster/channel_directory.h"
#include "brook/cluster/task_deployment.h"

namespace brook {

const char* JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kCreated: return "CREATED";
    case JobStatus::kRunning: return "RUNNING";
    case JobStatus::kFinished: return "FINISHED";
    case JobStatus::kFailed: return "FAILED";
    case JobStatus::kCanceled: return "CANCELED";
  }
  return "UNKNOWN";
}

namespace {

class LocalJob final : public RunningJob {
 public:
  LocalJob(JobGraph graph, const MiniClusterOptions& options, MetricRegistry* metrics)
      : graph_(std::move(graph)), options_(options), metrics_(metrics), job_id_(NewJobId(graph_)) {}

  ~LocalJob() override {
    Cancel();
    Wait();
    channels_.reset();  // after the threads, before the tasks (see NetworkChannelDirectory)
  }

  void Start() {
    DeploymentOptions deployment;
    deployment.task.buffer_timeout = options_.buffer_timeout;
    deployment.batch_size = options_.batch_size;
    deployment.metrics = metrics_;
    deployment.job_id = job_id_;
    try {
      // Every subtask runs here: only local channels, no network.
      ChannelDirectoryOptions channel_options;
      channel_options.channel_capacity = options_.channel_capacity;
      channel_options.batch_size = options_.batch_size;
      channels_ = std::make_unique<NetworkChannelDirectory>(
          graph_, [](VertexId, int) { return SubtaskPlace::Local(); }, nullptr,
          channel_options);
      for (auto [vertex, subtask] : channels_->local_subtasks())
        tasks_.push_back(
            DeploySubtask(graph_, graph_.vertex(vertex), subtask, *channels_, deployment));
    } catch (const std::exception& e) {
      // A factory that throws (a bad user function, say) fails the job before it runs.
      std::lock_guard lock(mutex_);
      status_ = result_.status = JobStatus::kFailed;
      result_.error = std::string("job deployment failed: ") + e.what();
      return;
    }
    start_ = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mutex_);
      status_ = JobStatus::kRunning;
      running_ = int(tasks_.size());
    }
    for (auto& task : tasks_) threads_.emplace_back([this, t = task.get()] { RunTask(*t); });
  }

  const JobGraph& graph() const override { return graph_; }
  const std::string& id() const override { return job_id_; }

  JobStatus status() const override {
    std::lock_guard lock(mutex_);
    return status_;
  }

  void Cancel() override {
    {
      std::lock_guard lock(mutex_);
      if (status_ != JobStatus::kRunning) return;
      cancel_requested_ = true;
    }
    for (auto& task : tasks_) task->Cancel();
  }

  JobResult Wait() override {
    {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [&] { return running_ == 0; });
    }
    JoinThreads();
    std::lock_guard lock(mutex_);
    return result_;
  }

  std::optional<JobResult> WaitFor(std::chrono::milliseconds timeout) override {
    {
      std::unique_lock lock(mutex_);
      if (!done_.wait_for(lock, timeout, [&] { return running_ == 0; })) return std::nullopt;
    }
    return Wait();
  }

  int running_tasks() const override {
    std::lock_guard lock(mutex_);
    return running_;
  }

 private:
  void RunTask(StreamTask& task) {
    std::string error;
    bool failed = false;
    try {
      task.Run();
    } catch (const OperatorFailure& e) {
      failed = true;
      error = e.what();
    } catch (const std::exception& e) {
      failed = true;
      error = std::string("task '") + task.name() + "' failed: " + e.what();
    }
    if (failed) {
      bool first = false;
      {
        std::lock_guard lock(mutex_);
        if (result_.error.empty()) {
          first = true;
          result_.error = error;
          result_.failed_task = task.name();
        }
      }
      // One failed subtask fails the job: stop the others.
      if (first)
        for (auto& t : tasks_) t->Cancel();
    }
    std::lock_guard lock(mutex_);
    if (--running_ == 0) {
      result_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start_);
      result_.status = !result_.error.empty() ? JobStatus::kFailed
                       : cancel_requested_    ? JobStatus::kCanceled
                                              : JobStatus::kFinished;
      status_ = result_.status;
      done_.notify_all();
    }
  }

  void JoinThreads() {
    std::lock_guard lock(join_mutex_);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  static std::string NewJobId(const JobGraph& graph) {
    static std::atomic<uint64_t> next_job{0};
    return graph.name() + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(next_job.fetch_add(1));
  }

  const JobGraph graph_;
  const MiniClusterOptions options_;
  MetricRegistry* metrics_;
  const std::string job_id_;
  std::unique_ptr<NetworkChannelDirectory> channels_;
  std::vector<std::unique_ptr<StreamTask>> tasks_;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;
  std::chrono::steady_clock::time_point start_;

  mutable std::mutex mutex_;
  std::condition_variable done_;
  JobStatus status_ = JobStatus::kCreated;  // guarded by mutex_
  int running_ = 0;                         // guarded by mutex_
  bool cancel_requested_ = false;           // guarded by mutex_
  JobResult result_;                        // guarded by mutex_
};

}  // namespace

MiniCluster::MiniCluster(MiniClusterOptions options) : options_(options) {}

MiniCluster::~MiniCluster() {
  std::lock_guard lock(mutex_);
  for (auto& job : jobs_) job->Cancel();
  jobs_.clear();  // each job joins its threads as it is destroyed
}

std::shared_ptr<RunningJob> MiniCluster::Submit(JobGraph graph) {
  auto job = std::make_shared<LocalJob>(std::move(graph), options_, &metrics_);
  job->Start();
  std::lock_guard lock(mutex_);
  // Forget ended jobs, and their metrics, once a new one comes.
  std::erase_if(jobs_, [&](const auto& j) {
    if (j->status() == JobStatus::kRunning) return false;
    metrics_.RemoveMatching({{"job_id", j->id()}});
    return true;
  });
  jobs_.push_back(job);
  return job;
}

JobResult MiniCluster::Execute(JobGraph graph) { return Submit(std::move(graph))->Wait(); }

}  // namespace brook
