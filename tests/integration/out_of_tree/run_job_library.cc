// brook_run_job_library: loads a job library with brook::JobLibrary, as a job manager does,
// and runs its graph on an in-process MiniCluster. The job's own output goes to stdout; what
// was loaded, the graph and how the job ended go to stderr.
//
//   brook_run_job_library <libjob.so> [-p N] [-- job arguments...]
//
// Exit code: 0 the job finished, 1 it failed, 2 bad usage or the library was refused.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "brook/cluster/mini_cluster.h"
#include "brook/jobs/job_library.h"

int main(int argc, char** argv) {
  std::string path;
  int parallelism = 0;
  std::vector<std::string> job_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      job_args.assign(argv + i + 1, argv + argc);
      break;
    } else if ((arg == "-p" || arg == "--parallelism") && i + 1 < argc) {
      parallelism = std::atoi(argv[++i]);
    } else if (path.empty() && !arg.empty() && arg[0] != '-') {
      path = arg;
    } else {
      path.clear();
      break;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: " << argv[0] << " <libjob.so> [-p N] [-- job arguments...]\n";
    return 2;
  }

  auto loaded = brook::JobLibrary::Load(path);
  if (!loaded) {
    std::cerr << "refused (" << brook::JobLibraryErrcName(loaded.error().code)
              << "): " << loaded.error().message << "\n";
    return 2;
  }
  // Declared before the graph and the cluster, so it is destroyed after them.
  const brook::JobLibrary library = std::move(loaded).value();
  std::cerr << "loaded job '" << library.name() << "' (Brook " << library.brook_version()
            << ", job ABI " << library.entry().abi_version << ") from " << library.path() << "\n";

  std::optional<brook::JobGraph> graph;
  try {
    graph = brook::BuildJobGraph(library, brook::JobArgs(job_args), parallelism);
  } catch (const std::exception& e) {
    std::cerr << "job '" << library.name() << "' could not be built: " << e.what() << "\n";
    return 2;
  }
  std::cerr << graph->Describe();

  brook::JobResult result;
  {
    brook::MiniCluster cluster;
    result = cluster.Execute(std::move(*graph));
  }
  std::fflush(stdout);
  std::cerr << "Job '" << library.name() << "' " << brook::JobStatusName(result.status);
  if (!result.error.empty()) std::cerr << ": " << result.error;
  std::cerr << "\n";
  return result.ok() ? 0 : 1;
}
