// The main() of a job executable: parses the command line and runs the job's graph on a
// MiniCluster, printing the graph and how the job ended.
//
//   ./myjob [--local] [--parallelism N] [--quiet] [-- job arguments...]
#pragma once

#include "brook/jobs/job_entry.h"

namespace brook {

// Returns the process exit code: 0 finished, 1 failed or canceled, 2 bad usage.
int RunJobMain(int argc, char** argv, const JobEntry& entry);

}  // namespace brook
