// Jobs whose code is linked into this process (a job executable run with --web, or tests)
// rather than uploaded as a library. The job manager and a task manager in the same process
// agree on such a job through a key instead of a blob: "inprocess:<job name>". The registry
// is process-wide; entries are static data of the executable and live as long as it does.
//
// Threading: all functions from any thread.
#pragma once

#include <string>
#include <string_view>

#include "brook/jobs/job_entry.h"

namespace brook {

inline constexpr std::string_view kInProcessJobPrefix = "inprocess:";

// Registers `entry` (idempotent) and returns its key.
std::string RegisterInProcessJob(const JobEntry& entry);
// The entry registered under `key`, or nullptr.
const JobEntry* FindInProcessJob(const std::string& key);
inline bool IsInProcessJobKey(std::string_view key) { return key.starts_with(kInProcessJobPrefix); }

}  // namespace brook
