#include "brook/runtime/checkpoint_barrier_handler.h"
#include "brook/runtime/clock.h"

#include <chrono>
#include <utility>

#include "brook/runtime/check.h"

namespace brook {
const char* ToString(CheckpointingMode mode) {
  switch (mode) {
    case CheckpointingMode::kAligned: return "aligned";
    case CheckpointingMode::kUnaligned: return "unaligned";
    case CheckpointingMode::kAtLeastOnce: return "at-least-once";
  }
  return "unknown";
}

CheckpointBarrierHandler::CheckpointBarrierHandler(CheckpointingMode mode, size_t num_channels,
                                                   Listener* listener)
    : mode_(mode),
      listener_(listener),
      received_(num_channels, false),
      ended_(num_channels, false),
      blocked_(num_channels, false),
      recording_(num_channels, false),
      channel_state_(num_channels) {
  BROOK_CHECK(listener != nullptr, "a barrier handler needs a listener");
}

void CheckpointBarrierHandler::RecordInFlight(size_t channel, std::string record) {
  BROOK_DCHECK(recording_[channel], "recording a channel that is not in flight");
  channel_state_[channel].push_back(std::move(record));
}

void CheckpointBarrierHandler::OnBarrier(const CheckpointBarrier& barrier, size_t channel) {
  const int64_t id = barrier.id.value();
  if (id <= last_done_) return;  // late barrier of a finished or aborted checkpoint
  if (pending_ && id < pending_->value()) return;  // superseded: a newer one is aligning
  if (pending_ && id > pending_->value()) {
    listener_->OnCheckpointAborted(*pending_, "checkpoint " + std::to_string(id) +
                                                  " started before this one completed");
    last_done_ = pending_->value();
    Reset();
  }
  if (!pending_) Start(barrier);
  if (received_[channel] || ended_[channel]) return;
  received_[channel] = true;
  if (PendingAligns()) blocked_[channel] = true;
  if (pending_unaligned_) recording_[channel] = false;
  CompleteIfAllArrived();
}

void CheckpointBarrierHandler::OnEndOfPartition(size_t channel) {
  if (ended_[channel]) return;
  ended_[channel] = true;
  // Whatever it had in flight has been recorded; it has nothing more to deliver.
  recording_[channel] = false;
  blocked_[channel] = false;
  if (pending_) CompleteIfAllArrived();
}

void CheckpointBarrierHandler::Abort(CheckpointId id, const std::string& reason) {
  if (id.value() > last_done_) last_done_ = id.value();
  if (!pending_ || pending_->value() > id.value()) return;
  CheckpointId aborted = *pending_;
  Reset();
  listener_->OnCheckpointAborted(aborted, reason);
}

void CheckpointBarrierHandler::Start(const CheckpointBarrier& barrier) {
  pending_ = barrier.id;
  pending_barrier_ = barrier;
  pending_unaligned_ =
      mode_ == CheckpointingMode::kUnaligned && barrier.kind == CheckpointKind::kCheckpoint;
  started_ns_ = SteadyNowNs();
  if (pending_unaligned_) {
    for (size_t c = 0; c < recording_.size(); ++c) recording_[c] = !ended_[c];
    listener_->OnCheckpointTriggered(barrier, 0);
  }
}

void CheckpointBarrierHandler::CompleteIfAllArrived() {
  for (size_t c = 0; c < received_.size(); ++c)
    if (!received_[c] && !ended_[c]) return;
  const int64_t alignment_ns = SteadyNowNs() - started_ns_;
  const CheckpointBarrier barrier = pending_barrier_;
  const bool unaligned = pending_unaligned_;
  ChannelState state = std::move(channel_state_);
  last_done_ = barrier.id.value();
  Reset();
  if (unaligned) {
    listener_->OnChannelStateComplete(barrier.id, std::move(state), alignment_ns);
  } else {
    listener_->OnCheckpointTriggered(barrier, alignment_ns);
  }
}

void CheckpointBarrierHandler::Reset() {
  pending_.reset();
  pending_unaligned_ = false;
  std::fill(received_.begin(), received_.end(), false);
  std::fill(blocked_.begin(), blocked_.end(), false);
  std::fill(recording_.begin(), recording_.end(), false);
  channel_state_.assign(received_.size(), {});
}

}  // namespace brook
