#include "brook/cluster/local_runner.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "brook/cluster/mini_cluster.h"
#include "brook/jobs/job_library.h"

namespace brook {

int RunJobMain(int argc, char** argv, const JobEntry& entry) {
  if (entry.abi_version != kJobAbiVersion) {
    std::cerr << "job '" << entry.name << "' was built against Brook job ABI "
              << entry.abi_version << ", this runner speaks " << kJobAbiVersion << "\n";
    return 2;
  }
  CLI::App app{std::string("Runs the Brook job '") + entry.name + "' on an embedded MiniCluster"};
  bool local = true;
  int parallelism = 0;
  bool quiet = false;
  std::vector<std::string> job_args;
  app.add_flag("--local", local, "Run on an in-process MiniCluster (the default)");
  app.add_option("-p,--parallelism", parallelism, "Default parallelism of the job's operators")
      ->check(CLI::Range(1, 1024));
  app.add_flag("-q,--quiet", quiet, "Do not print the job graph and result");
  app.add_option("args", job_args, "Arguments for the job, after --");
  app.allow_extras(false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::optional<JobGraph> graph;
  try {
    graph = BuildJobGraph(entry, JobArgs(job_args), parallelism);
  } catch (const std::exception& e) {
    std::cerr << "job '" << entry.name << "' could not be built: " << e.what() << "\n";
    return 2;
  }
  if (!quiet) std::cerr << graph->Describe();

  MiniCluster cluster;
  JobResult result = cluster.Execute(std::move(*graph));
  std::fflush(stdout);
  if (!quiet || !result.ok()) {
    std::cerr << "Job '" << entry.name << "' " << JobStatusName(result.status) << " after "
              << result.duration.count() << " ms";
    if (!result.error.empty()) std::cerr << ": " << result.error;
    std::cerr << "\n";
  }
  return result.ok() ? 0 : 1;
}

}  // namespace brook
