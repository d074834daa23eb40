// brook-jobmanager: the coordinator process of a Brook cluster (see job_manager.h).
//
//   brook-jobmanager [--config brook.yaml] [--rpc-port 6123] [--rest-port 8081] [--token T]
//                    [--set key=value ...]
#include <cstdio>

#include <spdlog/spdlog.h>

#include "brook/cluster/server/job_manager.h"
#include "brook/cluster/server/settings.h"
#include "process_config.h"

int main(int argc, char** argv) {
  brook::tools::BlockTerminationSignals();
  CLI::App app{"brook-jobmanager: the job manager of a Brook cluster (RPC for task managers, "
               "REST API, web status page and metrics)"};
  brook::tools::ProcessConfig config_flags(app, brook::server::ConfigScope::kJobManager);
  config_flags.AddFlag("--rpc-address", "rpc.address");
  config_flags.AddFlag("--rpc-port", "rpc.port");
  config_flags.AddFlag("--rest-address", "rest.address");
  config_flags.AddFlag("--rest-port", "rest.port");
  config_flags.AddFlag("--token", "cluster.token");
  config_flags.AddFlag("--log-level", "log.level");
  CLI11_PARSE(app, argc, argv);

  const auto settings = config_flags.LoadSettings<brook::server::JobManagerSettings>();
  if (!settings) return 2;
  const auto& s = *settings;
  brook::JobManagerOptions options;
  options.rpc_host = s.rpc_address;
  options.rpc_port = s.rpc_port;
  options.rest_host = s.rest_address;
  options.rest_port = s.rest_port;
  options.cluster_token = s.cluster_token;
  options.blob_dir = s.blob_directory;
  options.checkpoint_dir = s.checkpoint_directory;
  options.retained_checkpoints = s.retained_checkpoints;
  if (s.blob_max_bytes > 0) options.max_jar_bytes = s.blob_max_bytes;
  options.heartbeat_interval = s.heartbeat.interval;
  options.heartbeat_timeout = s.heartbeat.timeout;
  options.restart_strategy = s.restart_strategy;
  options.latency_tracking_interval = s.latency_tracking_interval;
  if (s.slot_wait_timeout.count() > 0) options.slot_wait_timeout = s.slot_wait_timeout;

  brook::JobManager jobmanager(options);
  std::string error;
  if (!jobmanager.Start(&error)) {
    spdlog::error("brook-jobmanager cannot start: {}", error);
    return 1;
  }
  brook::tools::WaitForTerminationSignal();
  jobmanager.Stop();
  return 0;
}
