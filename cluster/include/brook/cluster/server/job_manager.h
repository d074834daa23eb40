// JobManager: the cluster's coordinator (Flink's Dispatcher + JobMaster + ResourceManager in
// one). It accepts task managers on its RPC port and tracks them by heartbeats; stores
// uploaded job libraries in its blob store; builds a job's graph by loading its library;
// schedules subtasks onto slots (Flink's default slot sharing: slot i holds subtask i of every
// vertex), spread over task managers; follows every subtask's state; applies the job's restart
// strategy when a subtask fails or its task manager is lost; and serves the REST API (and the
// web status page) that the `brook` CLI uses.
//
// Threading: all state lives on one SerialExecutor; public methods from any thread.
// Life cycle: constructed -> Start() -> Stop() (also the destructor).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "brook/cluster/server/restart_strategy.h"
#include "brook/jobs/job_entry.h"

namespace brook {

struct JobManagerOptions {
  std::string rpc_host = "127.0.0.1";
  uint16_t rpc_port = 6123;  // 0: ephemeral
  std::string rest_host = "127.0.0.1";
  uint16_t rest_port = 8081;  // 0: ephemeral
  std::string cluster_token;
  bool rest_open_reads = true;  // false: GETs need the token too
  std::filesystem::path blob_dir;  // empty: a temporary directory
  std::filesystem::path web_dir;   // the status page's files; empty: the installed/built ones
  // Checkpoints of every job (LMDB environments, see checkpoint_storage.h). Task managers write
  // here too, so it must be a directory they share: on one machine, or a shared file system.
  // Empty: "checkpoints" next to the blob directory.
  std::filesystem::path checkpoint_dir;
  int retained_checkpoints = 3;
  // The job manager's own LMDB of unfinished jobs, from which a restarted job manager recovers
  // them (with the same blob directory). Empty: "jobmanager-state" next to the blob directory.
  std::filesystem::path state_dir;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{10000};
  std::chrono::milliseconds slot_wait_timeout{60000};
  server::RestartStrategySettings restart_strategy;  // for every job
  std::chrono::milliseconds buffer_timeout{100};
  // Latency markers for jobs that leave their interval unset (metrics.latency.interval); 0: off.
  std::chrono::milliseconds latency_tracking_interval{0};
  uint64_t max_jar_bytes = uint64_t{512} << 20;
};

// A job's state as the REST API reports it, for in-process callers.
struct JobSummary {
  std::string state;  // "CREATED", "RUNNING", ..., "FINISHED", "FAILED", "CANCELED"
  bool terminal = false;
  std::string root_exception;  // the latest failure, if any
  int restarts = 0;
};

class JobManager {
 public:
  explicit JobManager(JobManagerOptions options);
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Binds the RPC and REST ports. False, with the reason, if either cannot be bound.
  [[nodiscard]] bool Start(std::string* error);
  void Stop();

  uint16_t rpc_port() const;
  uint16_t rest_port() const;
  size_t registered_task_managers() const;

  // Runs a job whose code is linked into this process (a job executable's own entry) on the
  // cluster's task managers, which must run in this process too. Returns the job id; throws
  // std::runtime_error with the reason if the job cannot be built.
  std::string RunInProcess(const JobEntry& entry, const JobArgs& args, int parallelism);
  // REQUIRES: `job_id` was returned by this job manager.
  JobSummary QueryJob(const std::string& job_id) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook
