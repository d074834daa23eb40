// StreamTask runs one subtask: a chain of operators fed by one input (an input gate or a
// source), on one thread, through a mailbox loop:
//
//   loop: run mail -> fire due timers -> process one input step (a batch or an event)
//         nothing to do? flush writers, park until notified, a timer is due or the source wakes
//
// Life cycle: created -> wired (AddOperator/AddOutput/AddWriter/SetInput) -> Run() on the task
// thread -> returns when the input ended (after Finish() of every operator and end-of-partition
// on every writer), or throws the failure (an OperatorFailure names the operator), or returns
// quietly after Cancel().
//
// Checkpoints (the task-side API the task manager drives; see task_snapshot.h):
//   source task:  TriggerCheckpoint(n) -> mail -> snapshot -> barrier n emitted downstream
//   other tasks:  barrier n on the inputs -> CheckpointBarrierHandler (aligned, unaligned or
//                 at-least-once, StreamTaskOptions::checkpointing_mode) -> snapshot -> barrier n
//                 forwarded
//   The sync part (on the task thread) takes operator state and keyed-state views
//   (KeyedStateView: O(key groups) in memory, a read transaction in LMDB); then that
//   TaskSnapshot, views read as it goes, is written by the TaskSnapshotWriter on the
//   SnapshotExecutor and acknowledged through the CheckpointResponder (CheckpointAck), or
//   declined. NotifyCheckpointComplete/Aborted(n) reach every operator through the mailbox.
//   A task started with SetRestoreState() restores its operators before processing, and
//   replays unaligned channel state before reading its inputs.
//
// Stop with savepoint (CheckpointKind::kSynchronousSavepoint, Flink's synchronous savepoint):
//   source task:  TriggerCheckpoint(n, kSynchronousSavepoint[, kDrain]) -> mail -> (drain: the
//                 final watermark into the chain) -> snapshot -> barrier n -> stopping
//   other tasks:  barrier n aligned on every input -> snapshot -> barrier n forwarded -> stopping
//   stopping:     the task runs mail only: no input is read, no timer fires, nothing is emitted.
//                 NotifyCheckpointComplete(n): the operators are notified (two-phase-commit sinks
//                 commit the savepoint's transactions); a source task ends, a task with inputs
//                 reads them (timers still silent) until every upstream task's end-of-partition
//                 arrived, and ends. Ending sends end-of-partition on every writer, without
//                 Finish(): the operators' state lives on in the savepoint.
//                 NotifyCheckpointAborted(n): the task carries on where it stopped.
//   Limitation: a forwarded barrier queues behind the records already in the task's output
//   channels (it overtakes input-side records only), so under backpressure an unaligned
//   checkpoint still waits for the output queues to drain, though never for alignment.
//
// Threading: wiring before Run(); Run() on the task thread; Cancel(), TriggerCheckpoint(),
// NotifyCheckpoint*(), mailbox() and metrics() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "brook/runtime/checkpoint_barrier_handler.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/mailbox.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/record_writer.h"
#include "brook/runtime/runtime_context.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/task_input.h"
#include "brook/runtime/task_notifier.h"
#include "brook/runtime/task_snapshot.h"
#include "brook/runtime/timer_service.h"

namespace brook {

// Latency tracking at a source task: every `interval` the task emits a LatencyMarker stamped
// with the wall clock and the source's vertex and subtask into its chain, between batches
// (a processing-time timer: no per-record work, one clock read per batch as for any timer).
struct LatencyMarkerSettings {
  std::chrono::milliseconds interval{0};  // 0: no markers (tasks other than sources: always)
  VertexId source_vertex;
  SubtaskIndex source_subtask;
};

struct StreamTaskOptions {
  // The longest a partially filled batch waits in a writer while the task is busy. An idle
  // task flushes before it parks, so this bounds latency only under load.
  std::chrono::milliseconds buffer_timeout{100};
  // How barriers are handled on the inputs (the job's checkpointing mode).
  CheckpointingMode checkpointing_mode = CheckpointingMode::kAligned;
  LatencyMarkerSettings latency_markers;
};

class SnapshotExecutor;

// Where a task's checkpoints go. The writer is shared with the asynchronous parts in flight,
// which may outlive the task (a cancelled task's last snapshot still finishes writing). The
// responder and executor are the task manager's and must outlive every task and snapshot (the
// executor's Stop() waits for those).
struct TaskCheckpointing {
  std::shared_ptr<TaskSnapshotWriter> writer;  // nullptr: snapshots are taken but not written
  CheckpointResponder* responder = nullptr;    // nullptr: nobody is told
  SnapshotExecutor* executor = nullptr;        // nullptr: the async part runs on the task thread
  // Kept alive by the async parts in flight: what their keyed views' code lives in (the job
  // library, which a task manager would otherwise unload when the last task of a job ends).
  std::shared_ptr<const void> code_owner;
};

class StreamTask final : private MailboxExecutor, private CheckpointBarrierHandler::Listener {
 public:
  StreamTask(std::string task_name, StreamTaskOptions options = {});
  StreamTask(const StreamTask&) = delete;
  StreamTask& operator=(const StreamTask&) = delete;
  ~StreamTask();

  // Wiring, before Run(). Operators in chain order (head first); the task owns everything.
  StreamOperatorBase* AddOperator(std::unique_ptr<StreamOperatorBase> op, RuntimeContext context);
  OutputBase* AddOutput(std::unique_ptr<OutputBase> output);
  RecordWriterBase* AddWriter(std::unique_ptr<RecordWriterBase> writer,
                              std::vector<ChannelBase*> channels);
  void SetInput(std::unique_ptr<TaskInput> input, std::vector<ChannelBase*> input_channels);
  void SetCheckpointing(TaskCheckpointing checkpointing) { checkpointing_ = checkpointing; }
  // The state to start from: this subtask's share of a completed checkpoint (keyed entries of
  // its key groups, redistributed operator state, channel state), as the checkpoint component's
  // restore planning assembles it. Operators are matched by operator id.
  void SetRestoreState(TaskSnapshot restored) { restore_ = std::move(restored); }
  // As SetRestoreState, but the state is loaded by `load` at the start of Run(), on the task
  // thread: loading a big checkpoint takes seconds, which must not stall the thread that
  // deploys tasks and answers heartbeats. A throw fails the task.
  void SetRestoreLoader(std::function<TaskSnapshot()> load) { restore_loader_ = std::move(load); }

  // Any thread. Source tasks: take checkpoint `id` and emit its barrier downstream (tasks with
  // inputs ignore it: their barriers arrive in-band). Returns false if the task no longer runs
  // mail (finished, failed or cancelled): the coordinator counts that as a decline.
  // `stop_mode` matters for kSynchronousSavepoint only (kDrain: the final watermark first). A
  // source that is stopping declines every further checkpoint.
  bool TriggerCheckpoint(CheckpointId id, Timestamp timestamp,
                         CheckpointKind kind = CheckpointKind::kCheckpoint,
                         StopMode stop_mode = StopMode::kNoDrain);
  // Any thread. The coordinator completed / aborted checkpoint `id`.
  bool NotifyCheckpointComplete(CheckpointId id);
  bool NotifyCheckpointAborted(CheckpointId id);

  // Samples how full the task's output and input channels are into metrics().out_pool_usage
  // and in_pool_usage: queued / capacity summed over the channels, 0 without channels.
  // Any thread, while the channels exist (they belong to the deployment, not to the task).
  void SampleQueueUsage();

  // Runs the task to its end on the calling thread. Throws on failure.
  void Run();
  // Stops the task as soon as possible; wakes it wherever it is blocked. Idempotent.
  void Cancel();

  // Whether Run() returned because a stop-with-savepoint completed (rather than at the end of
  // the input). Read after Run() returned, on the thread that ran it.
  bool stopped_with_savepoint() const { return stopped_with_savepoint_; }

  const std::string& name() const { return name_; }
  TaskNotifier& notifier() { return notifier_; }
  TaskMailbox& mailbox() { return mailbox_; }
  ProcessingTimeService& timers() { return timers_; }
  TaskIoMetrics& metrics() { return metrics_; }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  bool Execute(TaskMailbox::Mail mail) override { return mailbox_.Put(std::move(mail)); }
  void Yield() override;
  void RunLoop();
  void FireDueTimers();
  // Waits for input, mail or (if `timers_run`) the next timer.
  void Park(bool timers_run);
  void FlushWriters();
  void FinishChain();
  void CloseChain() noexcept;
  void RestoreChain();
  void PerformCheckpoint(const CheckpointBarrier& barrier, int64_t alignment_ns);
  void SubmitAsyncPart(std::shared_ptr<TaskSnapshot> snapshot, int64_t sync_ns,
                       int64_t alignment_ns);
  void Decline(CheckpointId id, const std::string& reason);
  // Emits a latency marker into the chain and schedules the next one (source tasks).
  void EmitLatencyMarker(Timestamp fire_time);

  // CheckpointBarrierHandler::Listener, on the task thread.
  void OnCheckpointTriggered(const CheckpointBarrier& barrier, int64_t alignment_ns) override;
  void OnChannelStateComplete(CheckpointId id, ChannelState state, int64_t alignment_ns) override;
  void OnCheckpointAborted(CheckpointId id, const std::string& reason) override;

  const std::string name_;
  const StreamTaskOptions options_;
  TaskNotifier notifier_;
  TaskMailbox mailbox_{notifier_};
  ProcessingTimeService timers_;
  TaskIoMetrics metrics_;

  std::deque<RuntimeContext> contexts_;  // stable addresses for the operators
  std::vector<std::unique_ptr<StreamOperatorBase>> operators_;
  std::vector<std::unique_ptr<OutputBase>> outputs_;
  std::vector<std::unique_ptr<RecordWriterBase>> writers_;
  std::unique_ptr<TaskInput> input_;
  std::deque<OperatorStateRegistry> registries_;  // one per operator, chain order
  std::unique_ptr<CheckpointBarrierHandler> barrier_handler_;  // tasks with input channels
  TaskCheckpointing checkpointing_;
  std::optional<TaskSnapshot> restore_;
  std::function<TaskSnapshot()> restore_loader_;
  // Unaligned: snapshots taken whose channel state is still being recorded.
  struct PendingSnapshot {
    std::shared_ptr<TaskSnapshot> snapshot;
    int64_t sync_ns = 0;
  };
  std::map<int64_t, PendingSnapshot> pending_unaligned_;
  bool aborting_from_coordinator_ = false;
  // Stop with savepoint, task thread only: the synchronous savepoint this task took and waits on
  // (the task is stopping: mail only), and whether it completed (the task ends).
  std::optional<CheckpointId> stopping_at_;
  bool stopped_with_savepoint_ = false;
  std::vector<ChannelBase*> channels_;  // input and output, cancelled together
  std::vector<ChannelBase*> input_channels_;
  std::vector<ChannelBase*> output_channels_;

  std::atomic<bool> cancelled_{false};
  size_t opened_ = 0;  // operators opened so far (tail first), to close exactly those
};

}  // namespace brook
