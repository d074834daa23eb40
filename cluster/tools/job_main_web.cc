// main() for the job executables built in Brook's tree (examples): as the plain job main
// (job_main.cc, a MiniCluster), plus `--web PORT`: the job runs on an embedded cluster -- a job
// manager and a task manager in this process, the same code as brook-jobmanager and
// brook-taskmanager -- whose web status page and REST API are served on 127.0.0.1:PORT while
// the job runs and, after it ended, until Ctrl-C.
//
//   ./personalization --local --web 8081 [-p N] [-- job args]
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "brook/cluster/local_runner.h"
#include "brook/cluster/server/job_manager.h"
#include "brook/cluster/server/task_manager.h"
#include "brook/jobs/job_library.h"

extern "C" const brook::JobEntry* brook_job_entry();

namespace {

bool HasWebFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--web") == 0 || std::strncmp(argv[i], "--web=", 6) == 0) return true;
  }
  return false;
}

// Waits up to `timeout` for SIGINT/SIGTERM (blocked in every thread, see main).
bool Interrupted(std::chrono::milliseconds timeout) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  timespec wait{time_t(timeout.count() / 1000), long(timeout.count() % 1000) * 1'000'000};
  return sigtimedwait(&signals, nullptr, &wait) > 0;
}

int RunWithWebPage(int argc, char** argv, const brook::JobEntry& entry) {
  CLI::App app{std::string("Runs the Brook job '") + entry.name +
               "' on an embedded cluster with the web status page"};
  brook::JobMainOptions options;
  bool exit_when_done = false;
  uint16_t port = 8081;
  brook::AddJobMainOptions(app, options);
  app.add_option("--web", port, "Serve the web status page and REST API on 127.0.0.1:PORT")->required();
  app.add_flag("--exit-when-done", exit_when_done, "Exit when the job ends instead of serving on");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const std::optional<brook::JobGraph> graph = brook::BuildJobGraphOrExplain(entry, options);
  if (!graph) return 2;
  int slots = 1;
  for (const auto& v : graph->vertices()) slots = std::max(slots, v.parallelism);

  spdlog::set_level(spdlog::level::warn);
  brook::JobManagerOptions jm_options;
  jm_options.rpc_port = 0;
  jm_options.rest_port = port;
  brook::JobManager jobmanager(jm_options);
  std::string error;
  if (!jobmanager.Start(&error)) {
    std::cerr << "cannot start the embedded job manager: " << error << "\n";
    return 1;
  }
  brook::TaskManagerOptions tm_options;
  tm_options.jobmanager_port = jobmanager.rpc_port();
  tm_options.id = "local";
  tm_options.slots = slots;
  tm_options.metrics_port = -1;
  brook::TaskManager taskmanager(tm_options);
  if (!taskmanager.Start(&error)) {
    std::cerr << "cannot start the embedded task manager: " << error << "\n";
    return 1;
  }
  for (int i = 0; i < 500 && jobmanager.registered_task_managers() == 0; ++i) Interrupted(std::chrono::milliseconds(10));

  std::string id;
  try {
    id = jobmanager.RunInProcess(entry, brook::JobArgs(options.job_args), options.parallelism);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::cerr << "Job '" << entry.name << "' " << id << " is running; status page: http://127.0.0.1:"
            << jobmanager.rest_port() << "/#/jobs/" << id << "\n";
  brook::JobSummary summary;
  for (;;) {
    summary = jobmanager.QueryJob(id);
    if (summary.terminal) break;
    if (Interrupted(std::chrono::milliseconds(200))) {
      std::cerr << "interrupted\n";
      return 130;
    }
  }
  std::fflush(stdout);
  std::cerr << "Job '" << entry.name << "' " << summary.state;
  if (!summary.root_exception.empty()) std::cerr << ": " << summary.root_exception;
  std::cerr << "\n";
  if (!exit_when_done) {
    std::cerr << "The status page stays up at http://127.0.0.1:" << jobmanager.rest_port()
              << "/ (Ctrl-C to exit)\n";
    while (!Interrupted(std::chrono::milliseconds(1000))) {
    }
  }
  return summary.state == "FINISHED" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const brook::JobEntry& entry = *brook_job_entry();
  if (!HasWebFlag(argc, argv)) return brook::RunJobMain(argc, argv, entry);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  return RunWithWebPage(argc, argv, entry);
}
