// CheckpointBarrierHandler: what a task with input channels does with the checkpoint barriers
// arriving on them (Flink's CheckpointBarrierHandler). The input gates hand it every barrier and
// end-of-partition, ask it which channels they may poll, and, in unaligned mode, which records
// they must record as in-flight channel state. It tells its Listener (the task) when to take the
// snapshot and forward the barrier.
//
// Modes (chosen per job):
//   aligned (exactly-once)   barrier n on channel c blocks c (its later elements stay queued)
//                            until barrier n arrived on every open channel; then the task
//                            snapshots and forwards barrier n, and every channel is unblocked.
//   unaligned (exactly-once) the first barrier n triggers the snapshot at once and is forwarded
//                            immediately. Records that arrive afterwards on channels that have
//                            not delivered barrier n yet were in flight at the cut: the gates
//                            record them, and when the last barrier n arrived the recording goes
//                            to the task as channel state (replayed first on restore).
//   at-least-once            nothing is blocked; the snapshot is taken when barrier n arrived
//                            on every open channel.
// Savepoint barriers (CheckpointKind other than kCheckpoint) align in unaligned mode too, as in
// Flink: a savepoint holds no in-flight records, so it restores at any parallelism, and a
// stop-with-savepoint's tasks have nothing left to process once they took it.
//
//   channel:    c0 --r--r--|n|--r--r--     |n| = barrier n
//               c1 --r--r--r--r--|n|--     aligned: c0's records after |n| wait for c1's |n|
//
// A channel that ends (end-of-partition) during alignment no longer counts. A barrier with a
// newer id than the pending one aborts the pending checkpoint (its channels are unblocked, its
// channel state dropped) and starts the new one; barriers of an aborted or finished checkpoint
// are ignored. Abort(id), from the coordinator through the task's mailbox, aborts a pending
// checkpoint <= id.
//
// Threading: the task thread only. Life cycle: as long as the task.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "brook/runtime/ids.h"
#include "brook/runtime/stream_element.h"

namespace brook {

enum class CheckpointingMode : uint8_t { kAligned, kUnaligned, kAtLeastOnce };

const char* ToString(CheckpointingMode mode);

// Records in flight on each input channel of a task at an unaligned checkpoint, indexed by the
// task's input channel (gates numbered in order, each gate's channels in order). Each record is
// its Serde<std::pair<T, Timestamp>> encoding.
using ChannelState = std::vector<std::vector<std::string>>;

class CheckpointBarrierHandler {
 public:
  // Implemented by the task. Called on the task thread from inside the gates' ProcessNext().
  class Listener {
   public:
    virtual ~Listener() = default;
    // Take the snapshot for `barrier` now and forward the barrier downstream. `alignment_ns`: the
    // time from the first to the last barrier (0 for unaligned, which does not wait).
    virtual void OnCheckpointTriggered(const CheckpointBarrier& barrier, int64_t alignment_ns) = 0;
    // Unaligned only: every channel delivered barrier `id`; `state` is what was in flight.
    virtual void OnChannelStateComplete(CheckpointId id, ChannelState state,
                                        int64_t alignment_ns) = 0;
    // The pending checkpoint `id` will not complete here (a newer barrier, or Abort()).
    virtual void OnCheckpointAborted(CheckpointId id, const std::string& reason) = 0;
  };

  CheckpointBarrierHandler(CheckpointingMode mode, size_t num_channels, Listener* listener);
  CheckpointBarrierHandler(const CheckpointBarrierHandler&) = delete;
  CheckpointBarrierHandler& operator=(const CheckpointBarrierHandler&) = delete;

  CheckpointingMode mode() const { return mode_; }
  size_t num_channels() const { return received_.size(); }

  // Whether the gate must leave `channel` unpolled (aligned mode, its barrier already arrived).
  bool IsBlocked(size_t channel) const { return blocked_[channel]; }
  // Whether records from `channel` are in-flight state of the pending unaligned checkpoint.
  bool IsRecording(size_t channel) const { return recording_[channel]; }
  // REQUIRES: IsRecording(channel). `record` as described at ChannelState.
  void RecordInFlight(size_t channel, std::string record);

  void OnBarrier(const CheckpointBarrier& barrier, size_t channel);
  void OnEndOfPartition(size_t channel);
  // Aborts the pending checkpoint if its id is <= `id`; later barriers <= `id` are ignored.
  void Abort(CheckpointId id, const std::string& reason);

  std::optional<CheckpointId> pending() const { return pending_; }

 private:
  void Start(const CheckpointBarrier& barrier);
  // Whether the pending checkpoint blocks the channels that delivered its barrier.
  bool PendingAligns() const {
    return mode_ == CheckpointingMode::kAligned ||
           (mode_ == CheckpointingMode::kUnaligned && !pending_unaligned_);
  }
  void CompleteIfAllArrived();
  void Reset();

  const CheckpointingMode mode_;
  Listener* const listener_;
  std::vector<bool> received_;   // barrier of the pending checkpoint arrived on the channel
  std::vector<bool> ended_;      // end-of-partition arrived on the channel
  std::vector<bool> blocked_;    // aligned: not to be polled
  std::vector<bool> recording_;  // unaligned: records are in-flight channel state
  ChannelState channel_state_;
  std::optional<CheckpointId> pending_;
  CheckpointBarrier pending_barrier_;
  bool pending_unaligned_ = false;  // unaligned mode and a kCheckpoint barrier
  int64_t last_done_ = -1;  // highest id finished or aborted: its late barriers are ignored
  int64_t started_ns_ = 0;
};

}  // namespace brook
