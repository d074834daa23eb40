// The elements that flow through a stream: records (a value and its event timestamp), and the
// control events that travel in-band between them: watermarks, checkpoint barriers, latency
// markers and end-of-partition. Records move in batches so that per-record work is a plain
// loop; control events separate batches and keep their order relative to records.
#pragma once

#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "brook/runtime/ids.h"

namespace brook {

template <typename T>
struct StreamRecord {
  T value;
  Timestamp timestamp = kNoTimestamp;
};

// A contiguous run of records. Owned by whoever holds it; consumers may modify it in place
// (a filter compacts it, a same-typed map rewrites it), so a producer that fans out to several
// consumers hands each but the last a copy.
template <typename T>
struct RecordBatch {
  std::vector<StreamRecord<T>> records;

  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }
  void clear() { records.clear(); }
  void push(T value, Timestamp ts) { records.push_back({std::move(value), ts}); }
  auto begin() { return records.begin(); }
  auto end() { return records.end(); }
  auto begin() const { return records.begin(); }
  auto end() const { return records.end(); }
};

// Records per batch handed between operators and across channels. Large enough to amortize
// the per-batch virtual call and channel hand-over, small enough to stay in L2.
inline constexpr size_t kDefaultBatchSize = 1024;

// Event time has progressed to `timestamp`: no record with a smaller timestamp follows.
struct Watermark {
  Timestamp timestamp = kMinWatermark;
  bool operator==(const Watermark&) const = default;
};

// What a barrier is taken for:
//   kCheckpoint             periodic, by the coordinator; unaligned in an unaligned job.
//   kSavepoint              user-triggered (`brook savepoint`); always aligned, as in Flink, so
//                           that its state holds no in-flight records and rescales freely.
//   kSynchronousSavepoint   stop-with-savepoint (Flink's SavepointType suspend/terminate): an
//                           aligned savepoint after whose barrier the sources emit nothing; every
//                           task that took it processes nothing more (no input, no timers) until
//                           the coordinator decided. Completed: the task ends with end-of-partition
//                           without finishing its operators (their state lives on in the
//                           savepoint). Aborted: the task carries on.
enum class CheckpointKind : uint8_t { kCheckpoint, kSavepoint, kSynchronousSavepoint };
inline constexpr CheckpointKind kLastCheckpointKind = CheckpointKind::kSynchronousSavepoint;

// Whether a stop-with-savepoint ends event time first (Flink's StopMode): with kDrain the sources
// emit the final watermark (kMaxWatermark) before the savepoint's barrier, so every event-time
// window and timer fires into the savepoint's output; for jobs stopped for good.
enum class StopMode : uint8_t { kNoDrain, kDrain };

// Chandy-Lamport marker: everything before it belongs to checkpoint `id`.
struct CheckpointBarrier {
  CheckpointId id;
  Timestamp trigger_time = 0;
  CheckpointKind kind = CheckpointKind::kCheckpoint;
  bool unaligned = false;
  bool operator==(const CheckpointBarrier&) const = default;
};

// Emitted periodically by sources (StreamTaskOptions::latency_markers), forwarded past user
// functions along main outputs (to one channel of a record writer, in turn), and recorded by the
// sinks it reaches: the time records take from source to sink, queues included, but not
// windows or other operator buffering (Flink's LatencyMarker).
struct LatencyMarker {
  int64_t marked_time_ns = 0;  // wall-clock nanoseconds since the epoch at the source (WallNowNs)
  VertexId source_vertex;
  SubtaskIndex source_subtask;
  bool operator==(const LatencyMarker&) const = default;
};

// An input that has no data for a while is idle: it no longer holds back the watermark of the
// operators downstream until it becomes active again (Flink's WatermarkStatus).
struct WatermarkStatus {
  bool idle = false;
  bool operator==(const WatermarkStatus&) const = default;
};

// The producer of this channel will send nothing more.
struct EndOfPartition {
  bool operator==(const EndOfPartition&) const = default;
};

using StreamEvent =
    std::variant<Watermark, WatermarkStatus, CheckpointBarrier, LatencyMarker, EndOfPartition>;

}  // namespace brook
