// JobManagerSettings and TaskManagerSettings: everything brook-jobmanager and brook-taskmanager
// read from their Config, typed and checked across keys, so the processes never handle raw
// config text. Build a Config from file, environment and flags (config.h), then call
// FromConfig; a kInvalidConfig error names the key, its value and where the value came from.
//
// Checks beyond each key's own type and range:
//   - heartbeat.timeout must be longer than heartbeat.interval, and the interval above 0;
//   - a job manager binding rest.address or rpc.address to anything but loopback needs a
//     cluster.token (mutating calls and connections are authenticated by it);
//   - a task manager needs taskmanager.jobmanager;
//   - the restart strategy's own checks (restart_strategy.h).
//
// Threading: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "brook/cluster/server/config.h"
#include "brook/cluster/server/restart_strategy.h"
#include "brook/cluster/server/result.h"

namespace brook::server {

struct HeartbeatSettings {
  std::chrono::milliseconds interval{10'000};
  std::chrono::milliseconds timeout{50'000};
};

struct JobManagerSettings {
  std::string rest_address;
  uint16_t rest_port = 0;  // 0: any free port
  std::string rpc_address;
  uint16_t rpc_port = 0;      // 0: any free port
  std::string cluster_token;  // empty: none (loopback only)
  HeartbeatSettings heartbeat;
  RestartStrategySettings restart_strategy;
  std::string blob_directory;  // empty: the process makes a fresh temporary directory
  uint64_t blob_max_bytes = 0;
  std::chrono::milliseconds slot_wait_timeout{0};
  std::chrono::milliseconds latency_tracking_interval{0};  // 0: off
  std::string checkpoint_directory;  // empty: next to the blob store
  int retained_checkpoints = 3;
  std::string log_level;

  static Result<JobManagerSettings> FromConfig(const Config& config);
};

struct TaskManagerSettings {
  HostPort job_manager;
  std::string id;  // empty: the process makes one up
  int slots = 1;
  std::string host;            // binds and announces
  uint16_t data_port = 0;      // 0: any free port
  uint16_t metrics_port = 0;   // 0: no metrics endpoint
  std::string working_dir;     // empty: the process makes a fresh temporary directory
  std::string blob_directory;  // empty: a directory inside the working directory
  uint64_t blob_max_bytes = 0;
  std::string cluster_token;
  HeartbeatSettings heartbeat;
  uint64_t network_buffer_bytes = 0;
  std::chrono::milliseconds network_buffer_timeout{0};
  int network_credits_per_channel = 0;
  std::string log_level;

  static Result<TaskManagerSettings> FromConfig(const Config& config);
};

// True for addresses that only this machine reaches: 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackAddress(const std::string& address);

}  // namespace brook::server
