#include "brook/runtime/stream_task.h"
#include "brook/runtime/clock.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cxxabi.h>
#include <utility>

#include "brook/runtime/check.h"
#include "brook/runtime/snapshot_executor.h"
#include "brook/runtime/type_info.h"

namespace brook {

std::string Demangle(const char* mangled_name) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status);
  std::string result = status == 0 && demangled ? demangled : mangled_name;
  std::free(demangled);
  return result;
}

StreamTask::StreamTask(std::string task_name, StreamTaskOptions options)
    : name_(std::move(task_name)), options_(options) {}

StreamTask::~StreamTask() = default;

StreamOperatorBase* StreamTask::AddOperator(std::unique_ptr<StreamOperatorBase> op,
                                            RuntimeContext context) {
  context.timers = &timers_;
  context.mailbox = this;
  context.latency = metrics_.latency.get();
  std::string operator_id = context.operator_id.empty()
                                ? std::to_string(operators_.size()) + ":" + context.operator_name
                                : context.operator_id;
  registries_.emplace_back(std::move(operator_id));
  context.state_registry = &registries_.back();
  contexts_.push_back(std::move(context));
  operators_.push_back(std::move(op));
  return operators_.back().get();
}

OutputBase* StreamTask::AddOutput(std::unique_ptr<OutputBase> output) {
  outputs_.push_back(std::move(output));
  return outputs_.back().get();
}

RecordWriterBase* StreamTask::AddWriter(std::unique_ptr<RecordWriterBase> writer,
                                        std::vector<ChannelBase*> channels) {
  channels_.insert(channels_.end(), channels.begin(), channels.end());
  output_channels_.insert(output_channels_.end(), channels.begin(), channels.end());
  writers_.push_back(std::move(writer));
  return writers_.back().get();
}

void StreamTask::SetInput(std::unique_ptr<TaskInput> input,
                          std::vector<ChannelBase*> input_channels) {
  for (auto* c : input_channels) c->SetConsumerNotifier(&notifier_);
  channels_.insert(channels_.end(), input_channels.begin(), input_channels.end());
  input_channels_ = std::move(input_channels);
  input_ = std::move(input);
  if (size_t n = input_->num_channels(); n > 0) {
    barrier_handler_ =
        std::make_unique<CheckpointBarrierHandler>(
        options_.checkpointing_mode, n, static_cast<CheckpointBarrierHandler::Listener*>(this));
    input_->BindBarrierHandler(barrier_handler_.get(), 0);
  }
}

void StreamTask::Run() {
  BROOK_CHECK(input_ != nullptr, "a task needs an input before it runs");
  try {
    // A restore's phases are logged with their durations: recovery time is a target.
    const int64_t restore_start = SteadyNowNs();
    if (restore_loader_) {
      restore_ = restore_loader_();
      restore_loader_ = nullptr;
    }
    const bool restoring = restore_.has_value();
    const int64_t loaded = SteadyNowNs();
    if (restore_) {
      for (size_t i = 0; i < operators_.size(); ++i) {
        // Moved, not copied: keyed state can be large.
        OperatorSnapshot found;
        for (OperatorSnapshot& op : restore_->operators)
          if (op.operator_id == registries_[i].operator_id()) found = std::move(op);
        AttributeFailures(*operators_[i], [&] {
          registries_[i].SetRestoredState(restore_->checkpoint_id, std::move(found));
        });
      }
    }
    // Open downstream operators first, so each operator's outputs are ready when it opens.
    for (size_t i = operators_.size(); i-- > 0;) {
      auto& op = *operators_[i];
      AttributeFailures(op, [&] { op.Open(contexts_[i]); });
      ++opened_;
    }
    const int64_t opened = SteadyNowNs();
    RestoreChain();
    if (restoring) {
      const int64_t restored = SteadyNowNs();
      spdlog::info("task {}: restored in {:.3f} s (loading {:.3f} s, opening {:.3f} s, state {:.3f} s)",
                   name_, double(restored - restore_start) / 1e9, double(loaded - restore_start) / 1e9,
                   double(opened - loaded) / 1e9, double(restored - opened) / 1e9);
    }
    if (options_.latency_markers.interval.count() > 0 && !operators_.empty())
      timers_.RegisterTimer(ProcessingTimeService::Now() + options_.latency_markers.interval.count(),
                            [this](Timestamp time) { EmitLatencyMarker(time); });
    RunLoop();
    if (!cancelled()) {
      // Stopped with a savepoint, the operators are not finished: what they hold (open windows,
      // pending timers, buffers) is in the savepoint, and finishing would emit it a second time
      // when a job resumes from there. Flink's stop-with-savepoint does not finish them either.
      if (!stopped_with_savepoint_) FinishChain();
      FlushWriters();
      for (auto& w : writers_) w->BroadcastEvent(EndOfPartition{});
    }
  } catch (const TaskCancelled&) {
    // Cancelled while blocked: not a failure.
  } catch (...) {
    // A failed task lets go of its channels: the tasks at their other ends in this process,
    // blocked on a full channel to it or an empty one from it, end as cancelled instead of
    // waiting forever (until the job fails over, if anything is left to tell it).
    for (auto* c : channels_) c->Cancel();
    CloseChain();
    mailbox_.Close();
    throw;
  }
  CloseChain();
  mailbox_.Close();
}

void StreamTask::RunLoop() {
  auto last_flush = std::chrono::steady_clock::now();
  int64_t active_since = SteadyNowNs();
  while (!cancelled()) {
    if (mailbox_.HasMail()) mailbox_.RunAll();
    if (stopped_with_savepoint_ && input_->num_channels() == 0) {
      // A source whose stop completed: nothing upstream to wait for.
      metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
      return;
    }
    if (stopping_at_ && !stopped_with_savepoint_) {
      // Stopping with a savepoint: only the coordinator's decision (mail) moves the task on.
      // A channel may still wake it (an upstream task that heard of the completion first sends
      // end-of-partition); it parks again, reading nothing.
      FlushWriters();
      metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
      const int64_t park_start = SteadyNowNs();
      notifier_.Wait();
      active_since = SteadyNowNs();
      metrics_.idle_ns->Inc(active_since - park_start);
      continue;
    }
    // Stopped with a savepoint, a task with inputs reads them to their end-of-partition, which
    // the upstream tasks send once they stopped (ending in that order, as at the end of a bounded
    // input); timers stay silent, as while stopping: what they would emit is in the savepoint.
    const bool timers_run = !stopped_with_savepoint_;
    if (timers_run) FireDueTimers();
    switch (input_->ProcessNext()) {
      case TaskInput::Status::kMoreAvailable:
        if (!writers_.empty()) {
          auto now = std::chrono::steady_clock::now();
          if (now - last_flush >= options_.buffer_timeout) {
            FlushWriters();
            last_flush = now;
          }
        }
        continue;
      case TaskInput::Status::kEndOfInput:
        metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
        return;
      case TaskInput::Status::kNothingAvailable:
        FlushWriters();
        last_flush = std::chrono::steady_clock::now();
        metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
        int64_t park_start = SteadyNowNs();
        Park(timers_run);
        active_since = SteadyNowNs();
        metrics_.idle_ns->Inc(active_since - park_start);
        break;
    }
  }
}

void StreamTask::FireDueTimers() {
  if (auto deadline = timers_.NextDeadline(); deadline) {
    Timestamp now = ProcessingTimeService::Now();
    if (*deadline <= now) timers_.FireDue(now);
  }
}

void StreamTask::Yield() {
  while (true) {
    if (cancelled()) throw TaskCancelled();
    if (mailbox_.HasMail()) {
      mailbox_.RunAll();
      return;
    }
    if (auto deadline = timers_.NextDeadline(); deadline && *deadline <= ProcessingTimeService::Now()) {
      timers_.FireDue(ProcessingTimeService::Now());
      return;
    }
    auto deadline = timers_.NextDeadline();
    if (deadline)
      notifier_.WaitUntil(std::chrono::system_clock::time_point(std::chrono::milliseconds(*deadline)));
    else
      notifier_.Wait();
  }
}

void StreamTask::Park(bool timers_run) {
  std::optional<Timestamp> deadline;
  if (timers_run) deadline = timers_.NextDeadline();
  if (auto wake = input_->WakeAt()) deadline = deadline ? std::min(*deadline, *wake) : *wake;
  if (!deadline) {
    notifier_.Wait();
    return;
  }
  auto until = std::chrono::system_clock::time_point(std::chrono::milliseconds(*deadline));
  if (until > std::chrono::system_clock::now()) notifier_.WaitUntil(until);
}

void StreamTask::EmitLatencyMarker(Timestamp fire_time) {
  const LatencyMarkerSettings& settings = options_.latency_markers;
  LatencyMarker marker{WallNowNs(), settings.source_vertex, settings.source_subtask};
  // The head is the source: its default ProcessLatencyMarker hands the marker to its output,
  // past the chain's user functions.
  AttributeFailures(*operators_.front(), [&] { operators_.front()->ProcessLatencyMarker(marker); });
  // A task that fell behind (blocked by backpressure) skips the markers it missed.
  const int64_t interval = settings.interval.count();
  const Timestamp next = std::max(fire_time + interval, ProcessingTimeService::Now() + 1);
  timers_.RegisterTimer(next, [this](Timestamp time) { EmitLatencyMarker(time); });
}

namespace {
// Queued over capacity summed over `channels`; 0 when they hold nothing (or there are none).
double QueueUsage(const std::vector<ChannelBase*>& channels) {
  size_t queued = 0, capacity = 0;
  for (const ChannelBase* c : channels) {
    queued += c->queued();
    capacity += c->capacity();
  }
  return capacity == 0 ? 0.0 : std::min(1.0, double(queued) / double(capacity));
}
}  // namespace

void StreamTask::SampleQueueUsage() {
  metrics_.out_pool_usage->Set(QueueUsage(output_channels_));
  metrics_.in_pool_usage->Set(QueueUsage(input_channels_));
}

void StreamTask::FlushWriters() {
  for (auto& w : writers_) w->AsOutput().Flush();
}

void StreamTask::FinishChain() {
  // Head first: finishing an operator may emit records that its successors must still see.
  for (size_t i = 0; i < operators_.size(); ++i) {
    auto& op = *operators_[i];
    AttributeFailures(op, [&] { op.Finish(); });
  }
}

void StreamTask::CloseChain() noexcept {
  for (size_t i = operators_.size() - opened_; i < operators_.size(); ++i) {
    try {
      operators_[i]->Close();
    } catch (...) {
      // Close only releases resources; a failure here must not hide the task's outcome.
    }
  }
  opened_ = 0;
}

void StreamTask::RestoreChain() {
  for (size_t i = 0; i < operators_.size(); ++i) {
    auto& op = *operators_[i];
    AttributeFailures(op, [&] {
      registries_[i].InitializeComponents();
      InitializationContext context = registries_[i].MakeInitializationContext();
      op.InitializeState(context);
    });
    registries_[i].DropRestoredEntries();
  }
  if (restore_) {
    if (!restore_->channel_state.empty()) input_->RestoreChannelState(restore_->channel_state);
    restore_.reset();
  }
}

bool StreamTask::TriggerCheckpoint(CheckpointId id, Timestamp timestamp, CheckpointKind kind,
                                   StopMode stop_mode) {
  return mailbox_.Put([this, id, timestamp, kind, stop_mode] {
    if (barrier_handler_) return;  // barriers come in-band
    if (stopping_at_) {
      // Its barrier would follow the savepoint's, after which this source emits nothing.
      return Decline(
          id, "the source is stopping with savepoint " + std::to_string(stopping_at_->value()));
    }
    if (kind == CheckpointKind::kSynchronousSavepoint && stop_mode == StopMode::kDrain) {
      // The head is the source: its watermark goes down the chain as at the end of a bounded
      // input, firing every event-time window and timer before the barrier.
      AttributeFailures(*operators_.front(),
                        [&] { operators_.front()->ProcessWatermark(Watermark{kMaxWatermark}); });
    }
    // Savepoints align even in unaligned mode (checkpoint_barrier_handler.h).
    const bool unaligned = options_.checkpointing_mode == CheckpointingMode::kUnaligned &&
                           kind == CheckpointKind::kCheckpoint;
    PerformCheckpoint(CheckpointBarrier{id, timestamp, kind, unaligned}, 0);
  });
}

bool StreamTask::NotifyCheckpointComplete(CheckpointId id) {
  return mailbox_.Put([this, id] {
    for (auto& op : operators_)
      AttributeFailures(*op, [&] { op->NotifyCheckpointComplete(id); });
    // The operators committed the savepoint's side effects first; now the task may end.
    if (stopping_at_ && id.value() >= stopping_at_->value()) stopped_with_savepoint_ = true;
  });
}

bool StreamTask::NotifyCheckpointAborted(CheckpointId id) {
  return mailbox_.Put([this, id] {
    aborting_from_coordinator_ = true;
    if (barrier_handler_) barrier_handler_->Abort(id, "aborted by the coordinator");
    aborting_from_coordinator_ = false;
    pending_unaligned_.erase(pending_unaligned_.begin(), pending_unaligned_.upper_bound(id.value()));
    for (auto& op : operators_)
      AttributeFailures(*op, [&] { op->NotifyCheckpointAborted(id); });
    // The stop failed: the job keeps running, and so does this task, where it stopped.
    if (stopping_at_ == id) stopping_at_.reset();
  });
}

void StreamTask::PerformCheckpoint(const CheckpointBarrier& barrier, int64_t alignment_ns) {
  const int64_t start = SteadyNowNs();
  auto snapshot = std::make_shared<TaskSnapshot>();
  snapshot->checkpoint_id = barrier.id;
  snapshot->timestamp = barrier.trigger_time;
  snapshot->operators.reserve(operators_.size());
  for (size_t i = 0; i < operators_.size(); ++i) {
    auto& op = *operators_[i];
    OperatorStateRegistry& registry = registries_[i];
    OperatorSnapshot taken;
    taken.operator_id = registry.operator_id();
    AttributeFailures(op, [&] {
      SnapshotContext context(barrier, registry.operator_state(), taken);
      op.SnapshotState(context);
      registry.SnapshotComponents(context);
      taken.operator_state = registry.operator_state().Snapshot();
    });
    snapshot->operators.push_back(std::move(taken));
  }
  // Records the operators emitted while snapshotting precede the barrier.
  for (auto& w : writers_) w->BroadcastEvent(barrier);
  if (barrier.kind == CheckpointKind::kSynchronousSavepoint) stopping_at_ = barrier.id;
  const int64_t sync_ns = SteadyNowNs() - start;
  metrics_.alignment_ns->Inc(alignment_ns);
  metrics_.last_alignment_ns->Set(double(alignment_ns));
  if (barrier_handler_ && barrier_handler_->mode() == CheckpointingMode::kUnaligned &&
      barrier_handler_->pending() == barrier.id) {
    pending_unaligned_[barrier.id.value()] = PendingSnapshot{std::move(snapshot), sync_ns};
    return;
  }
  SubmitAsyncPart(std::move(snapshot), sync_ns, alignment_ns);
}

void StreamTask::SubmitAsyncPart(std::shared_ptr<TaskSnapshot> snapshot, int64_t sync_ns,
                                 int64_t alignment_ns) {
  std::shared_ptr<TaskSnapshotWriter> writer = checkpointing_.writer;
  CheckpointResponder* responder = checkpointing_.responder;
  auto job = [writer, responder, snapshot, sync_ns, alignment_ns, name = name_,
              code_owner = checkpointing_.code_owner] {
    CheckpointAck ack;
    ack.task_name = name;
    ack.checkpoint_id = snapshot->checkpoint_id;
    ack.sync_ns = sync_ns;
    ack.alignment_ns = alignment_ns;
    const int64_t start = SteadyNowNs();
    std::string failure;
    try {
      if (writer) ack.state_handle = writer->Write(*snapshot);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    ack.async_ns = SteadyNowNs() - start;
    ack.state_size = snapshot->StateSize();
    // Views hold copies of state tables (heap) or old LMDB pages: let go as soon as written.
    for (OperatorSnapshot& op : snapshot->operators) op.keyed_view.reset();
    if (!failure.empty()) {
      if (responder)
        responder->Decline(name, snapshot->checkpoint_id, "writing the snapshot failed: " + failure);
      return;
    }
    if (responder) responder->Acknowledge(ack);
  };
  if (checkpointing_.executor == nullptr || !checkpointing_.executor->Submit(job)) job();
}

void StreamTask::Decline(CheckpointId id, const std::string& reason) {
  if (checkpointing_.responder) checkpointing_.responder->Decline(name_, id, reason);
}

void StreamTask::OnCheckpointTriggered(const CheckpointBarrier& barrier, int64_t alignment_ns) {
  PerformCheckpoint(barrier, alignment_ns);
}

void StreamTask::OnChannelStateComplete(CheckpointId id, ChannelState state,
                                        int64_t alignment_ns) {
  auto it = pending_unaligned_.find(id.value());
  if (it == pending_unaligned_.end()) return;
  PendingSnapshot pending = std::move(it->second);
  pending_unaligned_.erase(it);
  pending.snapshot->channel_state = std::move(state);
  metrics_.alignment_ns->Inc(alignment_ns);
  metrics_.last_alignment_ns->Set(double(alignment_ns));
  SubmitAsyncPart(std::move(pending.snapshot), pending.sync_ns, alignment_ns);
}

void StreamTask::OnCheckpointAborted(CheckpointId id, const std::string& reason) {
  pending_unaligned_.erase(id.value());
  if (!aborting_from_coordinator_) Decline(id, reason);
}

void StreamTask::Cancel() {
  if (cancelled_.exchange(true)) return;
  for (auto* c : channels_) c->Cancel();
  notifier_.Notify();
}

}  // namespace brook
