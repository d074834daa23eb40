// brook-taskmanager: a worker process of a Brook cluster (see task_manager.h).
//
//   brook-taskmanager --jobmanager HOST:PORT [--slots N] [--data-port P] [--token T]
//                     [--config brook.yaml] [--set key=value ...]
#include <cstdio>

#include <spdlog/spdlog.h>

#include "brook/cluster/server/settings.h"
#include "brook/cluster/server/task_manager.h"
#include "process_config.h"

int main(int argc, char** argv) {
  brook::tools::BlockTerminationSignals();
  CLI::App app{"brook-taskmanager: a task manager of a Brook cluster (runs subtasks in slots)"};
  brook::tools::ProcessConfig config_flags(app, brook::server::ConfigScope::kTaskManager);
  config_flags.AddFlag("--jobmanager,-j", "taskmanager.jobmanager");
  config_flags.AddFlag("--slots,-s", "taskmanager.slots");
  config_flags.AddFlag("--id", "taskmanager.id");
  config_flags.AddFlag("--host", "taskmanager.host");
  config_flags.AddFlag("--data-port", "taskmanager.data.port");
  config_flags.AddFlag("--working-dir", "taskmanager.working-dir");
  config_flags.AddFlag("--token", "cluster.token");
  config_flags.AddFlag("--log-level", "log.level");
  CLI11_PARSE(app, argc, argv);

  const auto settings = config_flags.LoadSettings<brook::server::TaskManagerSettings>();
  if (!settings) return 2;
  const auto& s = *settings;
  brook::TaskManagerOptions options;
  options.jobmanager_host = s.job_manager.host;
  options.jobmanager_port = s.job_manager.port;
  options.cluster_token = s.cluster_token;
  options.id = s.id;
  options.slots = s.slots;
  options.host = s.host;
  options.bind_host = s.host;
  options.data_port = s.data_port;
  options.metrics_port = s.metrics_port == 0 ? -1 : s.metrics_port;
  options.working_dir = s.working_dir;
  if (s.network_buffer_bytes > 0) options.network_buffer_bytes = s.network_buffer_bytes;
  if (s.network_buffer_timeout.count() > 0) options.network_buffer_timeout = s.network_buffer_timeout;
  if (s.network_credits_per_channel > 0)
    options.network_credits_per_channel = uint32_t(s.network_credits_per_channel);

  brook::TaskManager taskmanager(options);
  std::string error;
  if (!taskmanager.Start(&error)) {
    spdlog::error("brook-taskmanager cannot start: {}", error);
    return 1;
  }
  spdlog::info("task manager {} with {} slots, data port {}, job manager {}", taskmanager.id(),
               s.slots, taskmanager.data_port(), s.job_manager.ToString());
  brook::tools::WaitForTerminationSignal();
  taskmanager.Stop();
  return 0;
}
