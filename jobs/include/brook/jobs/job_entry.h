// Jobs as shared libraries. A job's source says
//
//   BROOK_JOB(clickstream) {
//     env.fromGenerator(...)...;   // `env` is a brook::StreamEnvironment&,
//   }                              // `args` the job's arguments (brook::JobArgs)
//
// which defines the library's entry point: a C function returning a JobEntry with the ABI
// version the job was built against and the function that builds the job's graph. Runners (the
// local runner, the job manager, task managers) call it and refuse a library whose ABI
// version differs from theirs; brook::JobLibrary (brook/jobs/job_library.h) loads one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "brook/jobs/stream_environment.h"
#include "brook/jobs/version.h"  // generated from cmake/version.h.in

namespace brook {

// Changes whenever the layout of what crosses the job-library boundary changes.
// 2: JobEntry gained brook_version.
inline constexpr uint32_t kJobAbiVersion = 2;
inline constexpr const char* kJobEntrySymbol = "brook_job_entry";

// The arguments given to a job after `--` (e.g. `brook run job.so -- --users 1000`).
class JobArgs {
 public:
  JobArgs() = default;
  explicit JobArgs(std::vector<std::string> args) : args_(std::move(args)) {}

  const std::vector<std::string>& all() const { return args_; }
  // The value after `--name` (or in `--name=value`), if present.
  std::optional<std::string> Get(const std::string& name) const;
  std::string Get(const std::string& name, const std::string& fallback) const;
  int64_t GetInt(const std::string& name, int64_t fallback) const;
  bool Has(const std::string& flag) const;

 private:
  std::vector<std::string> args_;
};

using JobBuildFn = void (*)(StreamEnvironment& env, const JobArgs& args);

// What a job library's entry point returns: static data inside the library, valid while the
// library is loaded. `abi_version` stays the first field in every ABI version, so a runtime can
// always read it and refuse a mismatch before touching anything else.
struct JobEntry {
  uint32_t abi_version;       // kJobAbiVersion of the Brook the job was built against
  const char* name;           // the name given to BROOK_JOB
  JobBuildFn build;           // adds the job's streams to `env`
  const char* brook_version;  // kBrookVersion of the Brook the job was built against
};

}  // namespace brook

#define BROOK_JOB(job_name)                                                                      \
  static void BrookJobBuild_##job_name(::brook::StreamEnvironment& env,                          \
                                       const ::brook::JobArgs& args);                            \
  extern "C" __attribute__((visibility("default"))) const ::brook::JobEntry* brook_job_entry() { \
    static const ::brook::JobEntry entry{::brook::kJobAbiVersion, #job_name,                     \
                                         &BrookJobBuild_##job_name, ::brook::kBrookVersion};     \
    return &entry;                                                                               \
  }                                                                                              \
  static void BrookJobBuild_##job_name([[maybe_unused]] ::brook::StreamEnvironment& env,         \
                                       [[maybe_unused]] const ::brook::JobArgs& args)
