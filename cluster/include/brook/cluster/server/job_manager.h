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
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{10000};
  std::chrono::milliseconds slot_wait_timeout{60000};
  server::RestartStrategySettings restart_strategy;  // for every job
  std::chrono::milliseconds buffer_timeout{100};
  uint64_t max_jar_bytes = uint64_t{512} << 20;
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

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook
