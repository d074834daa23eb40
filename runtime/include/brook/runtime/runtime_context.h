// What an operator instance knows about where it runs: its names, its subtask index among the
// parallel instances, and the services of its task (timers, metrics). Handed to operators and
// to rich user functions in open().
//
// Threading: the task thread. Lifetime: owned by the task, valid from open() to close().
#pragma once

#include <string>

#include "brook/runtime/mailbox.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/timer_service.h"

namespace brook {

class OperatorStateRegistry;

struct RuntimeContext {
  std::string job_name;
  std::string task_name;      // the vertex, e.g. "Source: clicks -> Map"
  std::string operator_name;  // this operator, e.g. "Map"
  int subtask_index = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  int attempt = 0;
  ProcessingTimeService* timers = nullptr;
  MailboxExecutor* mailbox = nullptr;
  MetricRegistry* metrics = nullptr;
  // Set by the task: where latency markers ending at this operator (a sink) are recorded.
  LatencyHistograms* latency = nullptr;
  StateBackendConfig state_backend;
  // Unique per operator instance of a job: names its state (the LMDB environment directory).
  std::string state_scope;
  MetricLabels metric_labels;  // job, vertex and subtask labels for this operator's metrics
  // Names this operator's state in checkpoints; must be the same in every run of the job (the
  // node's uid when the user set one, else its node id). Empty: the task uses the position in
  // the chain and the operator name.
  std::string operator_id;
  // Set by the task (operator_state_registry.h): where the operator's checkpointed state is
  // registered. nullptr when the operator runs without a task (harnesses).
  OperatorStateRegistry* state_registry = nullptr;

  std::string SubtaskName() const {
    return operator_name + " (" + std::to_string(subtask_index + 1) + "/" +
           std::to_string(parallelism) + ")";
  }
};

}  // namespace brook
