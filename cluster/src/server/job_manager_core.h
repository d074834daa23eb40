// The job manager's state and logic, internal to brook_server (job_manager.cc wires it to the
// RPC server; rest_api.cc reads it for the REST API). Everything here runs on the job
// manager's SerialExecutor: no member is touched from another thread.
#pragma once

#include <chrono>
#include <deque>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "brook/cluster/rpc/rpc_connection.h"
#include "brook/cluster/server/blob_store.h"
#include "brook/cluster/server/job_manager.h"
#include "brook/cluster/server/restart_strategy.h"
#include "brook/cluster/server/serial_executor.h"
#include "brook/cluster/server/slot_pool.h"
#include "brook/checkpoint/checkpoint_metadata.h"
#include "brook/checkpoint/checkpoint_storage.h"
#include "cluster/src/server/job_store.h"
#include "brook/jobs/job_graph.h"
#include "brook/jobs/job_library.h"

namespace capnp {
class MessageBuilder;
}

namespace brook {

using SteadyTime = std::chrono::steady_clock::time_point;

// Milliseconds since the epoch, as Flink's REST API reports times.
int64_t NowMillis();

// Flink's job states (a subset: no suspension).
enum class JobState { kCreated, kRunning, kFailing, kCancelling, kRestarting, kFinished, kFailed, kCanceled };
const char* JobStateName(JobState state);
bool IsTerminal(JobState state);

enum class SubtaskStatus { kScheduled, kDeploying, kRunning, kFinished, kFailed, kCanceled };
const char* SubtaskStatusName(SubtaskStatus status);
bool IsTerminal(SubtaskStatus status);

// End-to-end latency of the markers from one source vertex that ended in a subtask, as its
// task manager reported it: a brook::Histogram's buckets (microseconds).
struct LatencyView {
  int source_vertex = 0;
  int64_t count = 0, sum_us = 0, max_us = 0;
  std::vector<int64_t> buckets;  // bucket i holds [2^(i-1), 2^i) µs; missing ones are empty
};

// The latest numbers a task manager reported for a subtask, and rates over the last interval.
struct SubtaskMetricsView {
  int64_t records_in = 0, records_out = 0, bytes_in = 0, bytes_out = 0;
  int64_t busy_ns = 0, idle_ns = 0, backpressure_ns = 0;
  int64_t watermark = INT64_MIN;
  double out_pool_usage = 0, in_pool_usage = 0;  // 0..1
  std::vector<LatencyView> latency;              // by source vertex
  double records_in_rate = 0, records_out_rate = 0;  // per second
  double busy_ratio = 0, backpressure_ratio = 0;     // of wall time, 0..1
  SteadyTime updated{};
};

struct SubtaskRecord {
  SubtaskStatus status = SubtaskStatus::kScheduled;
  std::string task_manager;
  SubtaskMetricsView metrics;
};

struct JobException {
  int64_t timestamp = 0;
  std::string message;
  std::string task;      // the failed subtask, e.g. "Keyed Reduce (2/4)"; empty: the job
  std::string location;  // task manager id
};

// One checkpoint as the REST API and `brook checkpoints` show it.
struct CheckpointStats {
  int64_t id = 0;
  std::string status;  // IN_PROGRESS, COMPLETED, FAILED
  int64_t trigger_time = 0;  // ms since the epoch
  int64_t duration_ms = 0;
  uint64_t state_size = 0;
  int64_t alignment_ms = 0;  // the slowest task's
  int acknowledged = 0;
  int subtasks = 0;
  std::string failure;
};

// A user's savepoint request, kept for its status (REST GET /jobs/{id}/savepoints/{rid}):
//   kSavepoint   POST /jobs/{id}/savepoints: COMPLETED once written to the target directory.
//   kCancelJob   the same with "cancel-job": then the job is cancelled (it ends CANCELED).
//   kStop        POST /jobs/{id}/stop (stop-with-savepoint, a synchronous savepoint):
//                COMPLETED once written and every task ended, the job FINISHED; FAILED if the
//                savepoint failed (the job keeps running) or the job ended otherwise.
struct SavepointRequest {
  enum class Mode { kSavepoint, kCancelJob, kStop };
  std::string target_directory;
  Mode mode = Mode::kSavepoint;
  StopMode stop_mode = StopMode::kNoDrain;  // kStop only
  std::string status = "IN_PROGRESS";  // IN_PROGRESS, COMPLETED, FAILED
  std::string location;                // set once the savepoint is written
  std::string failure;
};

struct PendingCheckpoint {
  SteadyTime started{};
  std::optional<std::string> savepoint_target;  // set for savepoints
  CheckpointMetadata metadata;
  std::set<std::pair<int, int>> acknowledged;  // (vertex, subtask)
};

// The checkpoint coordinator's state for one job (checkpoint_coordinator.cc).
struct JobCheckpoints {
  int64_t last_id = 0;  // ids grow across attempts, as in Flink
  std::map<int64_t, PendingCheckpoint> pending;
  std::string latest_completed_directory;  // restore from here on a restart
  std::optional<CheckpointStats> latest_completed;
  int completed = 0, failed = 0;
  std::deque<CheckpointStats> history;  // newest last, bounded
  SteadyTime last_end{};
  std::map<int64_t, SavepointRequest> savepoints;  // by checkpoint id
  // The synchronous savepoint of a stop in progress (its request in `savepoints`): no periodic
  // checkpoint and no other savepoint is triggered until the stop ended, either way.
  std::optional<int64_t> stopping;
};

struct JobRecord {
  std::string id;
  std::string name;
  std::string blob_key;
  uint64_t blob_size = 0;
  JobArgs args;
  int parallelism = 1;
  std::shared_ptr<JobLibrary> library;  // declared before the graph: outlives it
  std::unique_ptr<JobGraph> graph;
  JobState state = JobState::kCreated;
  int64_t start_time = 0, end_time = -1;
  int attempt = 0;
  uint64_t network_job_id = 0;
  int restarts = 0;
  std::vector<server::SlotId> slots;  // slot i runs subtask i of every vertex
  std::map<std::pair<int, int>, SubtaskRecord> subtasks;  // (vertex, subtask)
  std::vector<JobException> exceptions;
  std::unique_ptr<server::RestartStrategy> restart_strategy;
  std::optional<SteadyTime> waiting_for_slots_since;
  SteadyTime attempt_started{};
  bool cancel_requested = false;
  uint64_t timer_generation = 0;  // invalidates delayed actions of an earlier state
  JobCheckpoints checkpoints;
};

struct TaskManagerRecord {
  std::string id;
  std::string host;
  uint16_t data_port = 0;
  uint16_t metrics_port = 0;
  int slots = 0;
  int cpu_cores = 0;
  uint64_t physical_memory = 0;
  uint64_t rss_bytes = 0;
  double cpu_seconds = 0;
  int64_t pid = 0;
  int64_t registered_at = 0;
  SteadyTime last_heartbeat{};
  std::shared_ptr<rpc::RpcConnection> connection;
};

// A refusal the REST API turns into an HTTP status with a clear message.
struct RequestError : std::runtime_error {
  RequestError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

class JobManagerCore {
 public:
  JobManagerCore(const JobManagerOptions& options, SerialExecutor& executor, server::BlobStore& blobs);

  // --- from the RPC server (already on the executor) ---
  void OnTaskManagerMessage(const std::shared_ptr<rpc::RpcConnection>& connection,
                            capnp::MessageBuilder& message);
  void OnTaskManagerClosed(const std::shared_ptr<rpc::RpcConnection>& connection,
                           const std::string& reason);
  void StartHeartbeats();
  // Resumes the unfinished jobs of a previous run of the job manager (from its job store):
  // they wait for slots and restore from their latest completed checkpoint.
  void RecoverJobs();

  // --- checkpoint coordinator (checkpoint_coordinator.cc) ---
  // Starts periodic checkpoints of a job's new attempt (if the job enabled them).
  void StartCheckpointing(JobRecord& job);
  void OnCheckpointAck(capnp::MessageBuilder& message);
  void OnCheckpointDecline(capnp::MessageBuilder& message);
  // Aborts every checkpoint in flight (the attempt is failing or cancelled).
  void AbortPendingCheckpoints(JobRecord& job, const std::string& reason);
  CheckpointStorage* checkpoint_storage() const { return checkpoint_storage_.get(); }

  // --- from the REST API (on the executor); throw RequestError ---
  // Checks and stores a job library; returns its key (the jar id).
  std::string UploadJar(const std::string& bytes, const std::string& file_name);
  // Builds the job's graph and schedules it; returns the job id.
  // `savepoint`: a savepoint or retained checkpoint directory to start from ("" for none).
  std::string RunJar(const std::string& jar_id, const JobArgs& args, int parallelism,
                     const std::string& savepoint = "");
  // Runs a job whose code is linked into this process (in_process_jobs.h); returns its id.
  std::string RunInProcess(const JobEntry& entry, const JobArgs& args, int parallelism);
  // Takes a savepoint into `target_directory` (and then cancels the job if `cancel_job`);
  // returns its request id. Throws RequestError.
  int64_t TriggerSavepoint(const std::string& job_id, const std::string& target_directory,
                           bool cancel_job);
  // Stop with savepoint (checkpoint_coordinator.cc): a synchronous savepoint into
  // `target_directory`, after which the job ends FINISHED; returns its request id. If it fails
  // the job keeps running (with kDrain, whose sources already ended event time, it restarts
  // from its latest completed checkpoint). Throws RequestError.
  int64_t StopWithSavepoint(const std::string& job_id, const std::string& target_directory,
                            StopMode stop_mode);
  void CancelJob(const std::string& job_id);

  const std::map<std::string, std::unique_ptr<JobRecord>>& jobs() const { return jobs_; }
  const std::vector<std::string>& job_order() const { return job_order_; }
  const std::map<std::string, TaskManagerRecord>& task_managers() const { return task_managers_; }
  const server::SlotPool& slots() const { return slot_pool_; }
  const JobManagerOptions& options() const { return options_; }
  server::BlobStore& blobs() { return blobs_; }
  const JobRecord& job(const std::string& id) const;

 private:
  void Register(const std::shared_ptr<rpc::RpcConnection>& connection,
                capnp::MessageBuilder& message);
  void OnHeartbeat(TaskManagerRecord& tm, capnp::MessageBuilder& message);
  void OnTaskState(capnp::MessageBuilder& message);
  // Updates a subtask's metrics view from a report (heartbeat or final state).
  template <typename MetricsReader>
  void ApplyMetrics(MetricsReader s);
  void ServeBlob(const std::shared_ptr<rpc::RpcConnection>& connection, const std::string& key);
  void HeartbeatTick();
  void LoseTaskManager(const std::string& tm_id, const std::string& reason);

  // Registers a job whose library (if any) and graph are set, and schedules it.
  std::string AddJob(std::unique_ptr<JobRecord> job, const JobArgs& args, int parallelism,
                     const std::string& savepoint = "");
  void TrySchedule(JobRecord& job);
  // For delayed actions: the job, if it is still in `state` with the same timer generation
  // (nothing moved it on since the action was scheduled); nullptr otherwise.
  JobRecord* JobIfUnchanged(const std::string& id, uint64_t generation, JobState state);
  void ScheduleWaitingJobs();
  void Deploy(JobRecord& job);
  void FailAttempt(JobRecord& job, const std::string& message, const std::string& task,
                   const std::string& location);
  void CancelAttempt(JobRecord& job, const std::string& reason);
  // After every subtask of a failing/cancelling attempt ended: restart, fail or cancel.
  void MaybeConcludeAttempt(JobRecord& job);
  void Conclude(JobRecord& job, JobState state);
  void ReleaseSlots(JobRecord& job);
  std::string SubtaskName(const JobRecord& job, int vertex, int subtask) const;
  void SendTo(const std::string& tm_id, capnp::MessageBuilder& message);

  const JobManagerOptions& options_;
  SerialExecutor& executor_;
  server::BlobStore& blobs_;
  server::SlotPool slot_pool_;
  std::map<std::string, TaskManagerRecord> task_managers_;
  std::map<std::string, std::unique_ptr<JobRecord>> jobs_;
  std::vector<std::string> job_order_;  // submission order
  std::unique_ptr<CheckpointStorage> checkpoint_storage_;
  std::unique_ptr<JobStore> job_store_;
  // Saves what recovery needs of a job (no-op for jobs linked into this process).
  void Persist(const JobRecord& job);
  void CheckpointTick(const std::string& job_id, uint64_t generation);
  // Returns the new checkpoint's id. `kind` is kCheckpoint without a savepoint target.
  int64_t TriggerCheckpoint(JobRecord& job,
                            std::optional<std::string> savepoint_target = std::nullopt,
                            CheckpointKind kind = CheckpointKind::kCheckpoint,
                            StopMode stop_mode = StopMode::kNoDrain);
  // The job a savepoint request names, checked: running with every subtask, not stopping, an
  // absolute and empty target directory. Throws RequestError.
  JobRecord& SavepointableJob(const std::string& job_id, const std::string& target_directory);
  // The stop in progress ended without the job finishing: its request fails with `reason`
  // (unless it failed already) and periodic checkpoints go on.
  void EndStop(JobRecord& job, const std::string& reason);
  void CompleteCheckpoint(JobRecord& job, int64_t id);
  void FailCheckpoint(JobRecord& job, int64_t id, const std::string& reason);
  void FinishSavepoint(JobRecord& job, int64_t id, const std::string& target);
  // Copies completed savepoint `id` into `target` and sets its request's location; on failure
  // the request is FAILED and false returned.
  bool WriteSavepoint(JobRecord& job, int64_t id, const std::string& target);
  void DiscardLateWrite(JobRecord& job, int64_t id);
  void NotifyCheckpoint(JobRecord& job, int64_t id, bool completed);
  void RecordHistory(JobRecord& job, CheckpointStats stats);
  uint64_t heartbeat_sequence_ = 0;
};

}  // namespace brook
