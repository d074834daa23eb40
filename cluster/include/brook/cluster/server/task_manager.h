// TaskManager: a worker process's engine (Flink's TaskExecutor). It registers with the job
// manager, offers its slots, runs the subtasks the job manager deploys on it and reports how
// each ends, serves its data port to other task managers, and exchanges heartbeats.
//
//   JM --deployJob--> TM: fetch the job library from the JM's blob store (cached by key), load
//   it, build the job graph from (library, args, parallelism), wire the subtasks placed here
//   (local channels between them, network channels to subtasks elsewhere) and run them.
//   JM --cancelJob--> TM: cancel the attempt's subtasks; each reports CANCELED as it ends.
//
// Losing the job manager (connection closed, or no heartbeat within the timeout) cancels every
// subtask here, as in Flink, and the task manager registers again once it can reconnect; the
// job manager then deploys new attempts.
//
// Threading: all state lives on one SerialExecutor; public methods from any thread.
// Life cycle: constructed -> Start() -> Stop() (also the destructor): cancels and joins every
// subtask, closes connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "brook/runtime/network/network_environment.h"

namespace brook {

struct TaskManagerOptions {
  std::string jobmanager_host = "127.0.0.1";
  uint16_t jobmanager_port = 6123;
  std::string cluster_token;
  std::string id;                 // empty: "tm-<host>-<pid>-<n>"
  std::string host = "127.0.0.1";  // where other processes reach this one (data, metrics)
  std::string bind_host = "127.0.0.1";
  uint16_t data_port = 0;         // 0: ephemeral
  int metrics_port = -1;          // GET /metrics (Prometheus); 0: ephemeral, -1: none
  int slots = 1;
  std::filesystem::path working_dir;  // blob cache and state; empty: a temporary directory
  std::chrono::milliseconds reconnect_interval{500};
  std::chrono::milliseconds connect_timeout{5000};
  size_t network_buffer_bytes = 32 * 1024;
  std::chrono::milliseconds network_buffer_timeout{100};
  uint32_t network_credits_per_channel = 32;  // see NetworkOptions::initial_credits
  size_t channel_capacity = 8;  // batches per local channel
};

class TaskManager {
 public:
  explicit TaskManager(TaskManagerOptions options);
  ~TaskManager();
  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  // Starts the data port and begins connecting to the job manager (in the background, retrying
  // every reconnect_interval). False, with the reason, if the data port cannot be bound.
  [[nodiscard]] bool Start(std::string* error);
  void Stop();

  const std::string& id() const;
  uint16_t data_port() const;
  uint16_t metrics_port() const;  // 0 if none
  bool registered() const;
  size_t running_subtasks() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook
