// How a job ended, as reported by a MiniCluster (and later the job manager).
#pragma once

#include <chrono>
#include <string>

namespace brook {

enum class JobStatus { kCreated, kRunning, kFinished, kFailed, kCanceled };

const char* JobStatusName(JobStatus status);

struct JobResult {
  JobStatus status = JobStatus::kCreated;
  std::string error;            // the first failure, naming the operator (kFailed)
  std::string failed_task;      // the subtask where it happened, e.g. "Map (2/4)"
  std::chrono::milliseconds duration{0};

  bool ok() const { return status == JobStatus::kFinished; }
};

}  // namespace brook
