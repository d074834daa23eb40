// The checkpoint coordinator of the job manager (Flink's CheckpointCoordinator), as methods of
// JobManagerCore so that it shares the job manager's single thread and state:
//
//   every interval (after the minimum pause, at most max_concurrent in flight, only while every
//   subtask of the attempt runs): checkpoint n -> triggerCheckpoint to the task managers, whose
//   source tasks snapshot and emit barrier n; every task acknowledges with its state handle
//   -> the checkpoint completes: its metadata is written into the checkpoint storage (which
//   applies retention), the task managers are notified (two-phase-commit sinks commit), and a
//   restart of the job restores from it. A decline, a timeout or the attempt failing aborts it:
//   its files are discarded and the tasks are told.
//
// Stop with savepoint (Flink's synchronous savepoint): StopWithSavepoint triggers a
// kSynchronousSavepoint and pauses periodic checkpoints. Sources emit its barrier (after the
// final watermark, with --drain) and nothing more; every task snapshots and waits.
//   completes -> written to the target directory -> tasks notified: two-phase-commit sinks commit,
//                every task ends -> the job concludes FINISHED -> the request is COMPLETED
//   declined, timed out or not writable -> tasks told it aborted: they carry on, the request is
//                FAILED, periodic checkpoints resume (--drain: event time has ended at the
//                sources, so the attempt fails and restarts from the latest completed checkpoint)
//   a task fails after completion -> the request is FAILED; the job restarts from the savepoint
#include <filesystem>

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include "brook/runtime/check.h"
#include "cluster/src/server/control.capnp.h"
#include "cluster/src/server/job_manager_core.h"

namespace brook {

namespace {
constexpr size_t kCheckpointHistory = 50;

std::set<std::string> TaskManagersOf(const JobRecord& job) {
  std::set<std::string> result;
  for (const auto& [where, sub] : job.subtasks) result.insert(sub.task_manager);
  return result;
}
}  // namespace

void JobManagerCore::StartCheckpointing(JobRecord& job) {
  const CheckpointConfig& config = job.graph->config().checkpoint;
  if (!config.enabled() || !checkpoint_storage_) return;
  const std::string id = job.id;
  const uint64_t generation = job.timer_generation;
  executor_.PostAfter(std::chrono::milliseconds(config.interval_ms),
                      [this, id, generation] { CheckpointTick(id, generation); });
}

void JobManagerCore::CheckpointTick(const std::string& job_id, uint64_t generation) {
  JobRecord* current = JobIfUnchanged(job_id, generation, JobState::kRunning);
  if (!current) return;  // the attempt ended: its successor starts its own ticks
  JobRecord& job = *current;
  const CheckpointConfig& config = job.graph->config().checkpoint;
  const bool all_running = std::all_of(job.subtasks.begin(), job.subtasks.end(), [](const auto& e) {
    return e.second.status == SubtaskStatus::kRunning;
  });
  const bool paused = std::chrono::steady_clock::now() - job.checkpoints.last_end <
                      std::chrono::milliseconds(config.min_pause_ms);
  if (all_running && !paused && !job.checkpoints.stopping &&
      int(job.checkpoints.pending.size()) < config.max_concurrent)
    TriggerCheckpoint(job);
  executor_.PostAfter(std::chrono::milliseconds(config.interval_ms),
                      [this, job_id, generation] { CheckpointTick(job_id, generation); });
}

JobRecord& JobManagerCore::SavepointableJob(const std::string& job_id,
                                            const std::string& target_directory) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) throw RequestError(404, "no job with id '" + job_id + "'");
  JobRecord& job = *it->second;
  if (target_directory.empty() || target_directory.front() != '/')
    throw RequestError(400, "a savepoint needs an absolute target directory");
  std::error_code error;
  if (std::filesystem::exists(target_directory, error) &&
      !std::filesystem::is_empty(target_directory, error))
    throw RequestError(409, "the savepoint directory " + target_directory + " is not empty");
  const bool all_running = std::all_of(job.subtasks.begin(), job.subtasks.end(), [](const auto& e) {
    return e.second.status == SubtaskStatus::kRunning;
  });
  if (job.state != JobState::kRunning || !all_running)
    throw RequestError(409, std::string("a savepoint needs every subtask running; the job is ") +
                                JobStateName(job.state));
  if (job.checkpoints.stopping)
    throw RequestError(409, "the job is stopping with savepoint " +
                                std::to_string(*job.checkpoints.stopping));
  return job;
}

int64_t JobManagerCore::TriggerSavepoint(const std::string& job_id,
                                         const std::string& target_directory, bool cancel_job) {
  JobRecord& job = SavepointableJob(job_id, target_directory);
  const int64_t id = TriggerCheckpoint(job, target_directory, CheckpointKind::kSavepoint);
  SavepointRequest& request = job.checkpoints.savepoints[id];
  request.target_directory = target_directory;
  request.mode =
      cancel_job ? SavepointRequest::Mode::kCancelJob : SavepointRequest::Mode::kSavepoint;
  return id;
}

int64_t JobManagerCore::StopWithSavepoint(const std::string& job_id,
                                          const std::string& target_directory, StopMode stop_mode) {
  JobRecord& job = SavepointableJob(job_id, target_directory);
  const int64_t id =
      TriggerCheckpoint(job, target_directory, CheckpointKind::kSynchronousSavepoint, stop_mode);
  SavepointRequest& request = job.checkpoints.savepoints[id];
  request.target_directory = target_directory;
  request.mode = SavepointRequest::Mode::kStop;
  request.stop_mode = stop_mode;
  job.checkpoints.stopping = id;
  spdlog::info("job manager: job {} stops with savepoint {} into {}{}", job.id, id, target_directory,
               stop_mode == StopMode::kDrain ? " (draining)" : "");
  return id;
}

int64_t JobManagerCore::TriggerCheckpoint(JobRecord& job,
                                          std::optional<std::string> savepoint_target,
                                          CheckpointKind kind, StopMode stop_mode) {
  BROOK_CHECK(savepoint_target.has_value() == (kind != CheckpointKind::kCheckpoint),
              "savepoints, and only they, have a target directory");
  const int64_t id = ++job.checkpoints.last_id;
  PendingCheckpoint& pending = job.checkpoints.pending[id];
  pending.started = std::chrono::steady_clock::now();
  pending.savepoint_target = savepoint_target;
  pending.metadata.kind = kind;
  pending.metadata.job_id = job.id;
  pending.metadata.checkpoint_id = CheckpointId(id);
  pending.metadata.trigger_time = NowMillis();
  for (const auto& tm : TaskManagersOf(job)) {
    capnp::MallocMessageBuilder message;
    auto t = message.initRoot<control::ControlMessage>().initTriggerCheckpoint();
    t.setJobId(job.id);
    t.setAttempt(job.attempt);
    t.setCheckpointId(id);
    t.setTimestamp(pending.metadata.trigger_time);
    t.setSavepoint(kind != CheckpointKind::kCheckpoint);
    t.setSynchronous(kind == CheckpointKind::kSynchronousSavepoint);
    t.setDrain(kind == CheckpointKind::kSynchronousSavepoint && stop_mode == StopMode::kDrain);
    SendTo(tm, message);
  }
  const std::string job_id = job.id;
  const int attempt = job.attempt;
  executor_.PostAfter(std::chrono::milliseconds(job.graph->config().checkpoint.timeout_ms),
                      [this, job_id, attempt, id] {
                        auto it = jobs_.find(job_id);
                        if (it == jobs_.end() || it->second->attempt != attempt) return;
                        if (it->second->checkpoints.pending.count(id))
                          FailCheckpoint(*it->second, id, "timed out");
                      });
  return id;
}

void JobManagerCore::OnCheckpointAck(capnp::MessageBuilder& message) {
  auto a = message.getRoot<control::ControlMessage>().asReader().getAcknowledgeCheckpoint();
  auto it = jobs_.find(a.getJobId());
  if (it == jobs_.end()) return;
  JobRecord& job = *it->second;
  auto pending = job.checkpoints.pending.find(a.getCheckpointId());
  if (it->second->attempt != a.getAttempt() || pending == job.checkpoints.pending.end()) {
    // A task finished writing a checkpoint that was aborted meanwhile (or belongs to an ended
    // attempt): its write re-created files that the abort had discarded.
    DiscardLateWrite(job, a.getCheckpointId());
    return;
  }
  if (!pending->second.acknowledged.insert({a.getVertex(), a.getSubtask()}).second) return;
  TaskCheckpointRecord record;
  record.task_name = a.getTaskName();
  record.vertex = "v" + std::to_string(a.getVertex());
  record.subtask = a.getSubtask();
  record.state_handle = a.getStateHandle();
  record.state_size = a.getStateSize();
  record.sync_ns = a.getSyncNs();
  record.async_ns = a.getAsyncNs();
  record.alignment_ns = a.getAlignmentNs();
  pending->second.metadata.tasks.push_back(std::move(record));
  if (pending->second.acknowledged.size() == job.subtasks.size())
    CompleteCheckpoint(job, a.getCheckpointId());
}

void JobManagerCore::OnCheckpointDecline(capnp::MessageBuilder& message) {
  auto d = message.getRoot<control::ControlMessage>().asReader().getDeclineCheckpoint();
  auto it = jobs_.find(d.getJobId());
  if (it == jobs_.end() || it->second->attempt != d.getAttempt()) return;
  if (!it->second->checkpoints.pending.count(d.getCheckpointId())) return;
  FailCheckpoint(*it->second, d.getCheckpointId(),
                 "declined by " + SubtaskName(*it->second, d.getVertex(), d.getSubtask()) + ": " +
                     std::string(d.getReason()));
}

void JobManagerCore::CompleteCheckpoint(JobRecord& job, int64_t id) {
  PendingCheckpoint pending = std::move(job.checkpoints.pending.at(id));
  job.checkpoints.pending.erase(id);
  pending.metadata.completion_time = NowMillis();
  try {
    checkpoint_storage_->CompleteCheckpoint(pending.metadata);
  } catch (const std::exception& e) {
    job.checkpoints.pending[id] = std::move(pending);
    return FailCheckpoint(job, id, std::string("cannot store its metadata: ") + e.what());
  }
  CheckpointStats stats;
  stats.id = id;
  stats.status = "COMPLETED";
  stats.trigger_time = pending.metadata.trigger_time;
  stats.duration_ms = pending.metadata.completion_time - pending.metadata.trigger_time;
  stats.state_size = pending.metadata.TotalSize();
  for (const auto& task : pending.metadata.tasks)
    stats.alignment_ms = std::max(stats.alignment_ms, task.alignment_ns / 1'000'000);
  stats.acknowledged = stats.subtasks = int(job.subtasks.size());
  job.checkpoints.latest_completed = stats;
  job.checkpoints.latest_completed_directory = checkpoint_storage_->CheckpointDirectory(job.id, CheckpointId(id));
  ++job.checkpoints.completed;
  job.checkpoints.last_end = std::chrono::steady_clock::now();
  Persist(job);
  RecordHistory(job, stats);
  spdlog::info("job manager: job {} checkpoint {} completed in {} ms ({} bytes)", job.id, id,
               stats.duration_ms, stats.state_size);
  if (job.checkpoints.stopping == id) {
    // Written before the tasks hear of it: they end once told it completed, so a savepoint that
    // cannot be written must reach them as aborted (they carry on; its transactions stay pending
    // for the next checkpoint, as after any abort).
    const bool written = WriteSavepoint(job, id, *pending.savepoint_target);
    NotifyCheckpoint(job, id, written);
    if (!written) EndStop(job, job.checkpoints.savepoints[id].failure);
  } else {
    NotifyCheckpoint(job, id, true);
    if (pending.savepoint_target) FinishSavepoint(job, id, *pending.savepoint_target);
  }
  // Older checkpoints still in flight are subsumed by this one.
  std::vector<int64_t> older;
  for (const auto& [pending_id, p] : job.checkpoints.pending)
    if (pending_id < id) older.push_back(pending_id);
  for (int64_t o : older) FailCheckpoint(job, o, "subsumed by checkpoint " + std::to_string(id));
}

void JobManagerCore::FailCheckpoint(JobRecord& job, int64_t id, const std::string& reason) {
  auto it = job.checkpoints.pending.find(id);
  if (it == job.checkpoints.pending.end()) return;
  CheckpointStats stats;
  stats.id = id;
  stats.status = "FAILED";
  stats.trigger_time = it->second.metadata.trigger_time;
  stats.duration_ms = NowMillis() - stats.trigger_time;
  stats.acknowledged = int(it->second.acknowledged.size());
  stats.subtasks = int(job.subtasks.size());
  stats.failure = reason;
  job.checkpoints.pending.erase(it);
  ++job.checkpoints.failed;
  if (auto request = job.checkpoints.savepoints.find(id); request != job.checkpoints.savepoints.end()) {
    request->second.status = "FAILED";
    request->second.failure = reason;
  }
  job.checkpoints.last_end = std::chrono::steady_clock::now();
  RecordHistory(job, stats);
  spdlog::warn("job manager: job {} checkpoint {} failed: {}", job.id, id, reason);
  try {
    checkpoint_storage_->Discard(job.id, CheckpointId(id));
  } catch (const std::exception& e) {
    spdlog::warn("job manager: cannot discard checkpoint {} of job {}: {}", id, job.id, e.what());
  }
  NotifyCheckpoint(job, id, false);
  if (job.checkpoints.stopping == id) EndStop(job, reason);
}

void JobManagerCore::EndStop(JobRecord& job, const std::string& reason) {
  if (!job.checkpoints.stopping) return;
  const int64_t id = *job.checkpoints.stopping;
  job.checkpoints.stopping.reset();
  SavepointRequest& request = job.checkpoints.savepoints[id];
  if (request.status == "IN_PROGRESS") {
    request.status = "FAILED";
    request.failure = request.location.empty()
                          ? reason
                          : "the savepoint at " + request.location +
                                " completed, but the job did not finish: " + reason;
  }
  spdlog::warn("job manager: job {} did not stop with savepoint {}: {}", job.id, id, reason);
  // Tasks told of the abort carry on, but with --drain the sources ended event time already:
  // every later record would be late. The attempt starts over from consistent state instead.
  if (request.stop_mode == StopMode::kDrain && request.location.empty() &&
      job.state == JobState::kRunning)
    FailAttempt(job,
                "stop with savepoint --drain failed (" + reason +
                    "); its sources had ended event time, so the job restarts from its latest "
                    "completed checkpoint",
                "", "");
}

void JobManagerCore::DiscardLateWrite(JobRecord& job, int64_t id) {
  try {
    for (CheckpointId completed : checkpoint_storage_->CompletedCheckpoints(job.id))
      if (completed.value() == id) return;
    checkpoint_storage_->Discard(job.id, CheckpointId(id));
  } catch (const std::exception& e) {
    spdlog::warn("job manager: cannot discard aborted checkpoint {} of job {}: {}", id, job.id, e.what());
  }
}

void JobManagerCore::AbortPendingCheckpoints(JobRecord& job, const std::string& reason) {
  std::vector<int64_t> ids;
  for (const auto& [id, pending] : job.checkpoints.pending) ids.push_back(id);
  for (int64_t id : ids) FailCheckpoint(job, id, reason);
}

void JobManagerCore::NotifyCheckpoint(JobRecord& job, int64_t id, bool completed) {
  for (const auto& tm : TaskManagersOf(job)) {
    capnp::MallocMessageBuilder message;
    auto n = message.initRoot<control::ControlMessage>().initNotifyCheckpoint();
    n.setJobId(job.id);
    n.setAttempt(job.attempt);
    n.setCheckpointId(id);
    n.setCompleted(completed);
    SendTo(tm, message);
  }
}

// A completed savepoint is copied out of the job's checkpoints into the user's directory, where
// it outlives the job (and retention); savepoint-and-cancel then cancels the job.
void JobManagerCore::FinishSavepoint(JobRecord& job, int64_t id, const std::string& target) {
  if (!WriteSavepoint(job, id, target)) return;
  SavepointRequest& request = job.checkpoints.savepoints[id];
  request.status = "COMPLETED";
  if (request.mode == SavepointRequest::Mode::kCancelJob && job.state == JobState::kRunning)
    CancelJob(job.id);
}

bool JobManagerCore::WriteSavepoint(JobRecord& job, int64_t id, const std::string& target) {
  SavepointRequest& request = job.checkpoints.savepoints[id];
  try {
    checkpoint_storage_->WriteSavepoint(job.id, CheckpointId(id), target);
  } catch (const std::exception& e) {
    request.status = "FAILED";
    request.failure = std::string("the savepoint cannot be written to ") + target + ": " + e.what();
    spdlog::warn("job manager: job {} savepoint {} cannot be written to {}: {}", job.id, id, target, e.what());
    return false;
  }
  request.location = target;
  spdlog::info("job manager: job {} savepoint {} written to {}", job.id, id, target);
  return true;
}

void JobManagerCore::RecordHistory(JobRecord& job, CheckpointStats stats) {
  job.checkpoints.history.push_back(std::move(stats));
  while (job.checkpoints.history.size() > kCheckpointHistory) job.checkpoints.history.pop_front();
}

}  // namespace brook
