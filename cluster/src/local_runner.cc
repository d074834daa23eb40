#include "brook/cluster/local_runner.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "brook/cluster/mini_cluster.h"
#include "brook/jobs/job_library.h"

namespace brook {

void AddJobMainOptions(CLI::App& app, JobMainOptions& options) {
  app.add_flag("--local", options.local, "Run in this process (the default)");
  app.add_option("-p,--parallelism", options.parallelism,
                 "Default parallelism of the job's operators")
      ->check(CLI::Range(1, 1024));
  app.add_option("args", options.job_args, "Arguments for the job, after --");
}

std::optional<JobGraph> BuildJobGraphOrExplain(const JobEntry& entry,
                                               const JobMainOptions& options) {
  if (entry.abi_version != kJobAbiVersion) {
    std::cerr << "job '" << entry.name << "' was built against Brook job ABI "
              << entry.abi_version << ", this runner speaks " << kJobAbiVersion << "\n";
    return std::nullopt;
  }
  try {
    return BuildJobGraph(entry, JobArgs(options.job_args), options.parallelism);
  } catch (const std::exception& e) {
    std::cerr << "job '" << entry.name << "' could not be built: " << e.what() << "\n";
    return std::nullopt;
  }
}

int RunJobMain(int argc, char** argv, const JobEntry& entry) {
  CLI::App app{std::string("Runs the Brook job '") + entry.name + "' on an embedded MiniCluster"};
  JobMainOptions options;
  bool quiet = false;
  AddJobMainOptions(app, options);
  app.add_flag("-q,--quiet", quiet, "Do not print the job graph and result");
  app.allow_extras(false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::optional<JobGraph> graph = BuildJobGraphOrExplain(entry, options);
  if (!graph) return 2;
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
