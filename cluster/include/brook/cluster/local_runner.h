// The main() of a job executable: parses the command line and runs the job's graph on a
// MiniCluster, printing the graph and how the job ended.
//
//   ./myjob [--local] [--parallelism N] [--quiet] [-- job arguments...]
//
// Its options and the checked building of the graph are shared with the examples' main, which
// also runs a job on an embedded cluster with the web status page (cluster/tools).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "brook/jobs/job_entry.h"
#include "brook/jobs/job_graph.h"

namespace CLI {
class App;
}

namespace brook {

// Returns the process exit code: 0 finished, 1 failed or canceled, 2 bad usage.
int RunJobMain(int argc, char** argv, const JobEntry& entry);

// What every job executable's command line says, whichever cluster runs the job.
struct JobMainOptions {
  bool local = true;
  int parallelism = 0;  // 0: the job's own
  std::vector<std::string> job_args;
};
// Adds --local, -p/--parallelism and the job's arguments (after --) to `app`.
void AddJobMainOptions(CLI::App& app, JobMainOptions& options);
// The job's graph; nullopt, with the reason on stderr, if the entry was built against another
// job ABI or the job's code threw.
std::optional<JobGraph> BuildJobGraphOrExplain(const JobEntry& entry,
                                               const JobMainOptions& options);

}  // namespace brook
