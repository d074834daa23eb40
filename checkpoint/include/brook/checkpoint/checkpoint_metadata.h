// CheckpointMetadata: the record of one completed checkpoint (or savepoint) that the
// coordinator writes once every task acknowledged: which tasks took part, where their state is
// (the handles from their acks), sizes and durations. The job manager keeps it in its own LMDB
// (the bytes of Encode()) to recover running jobs, the REST API shows it, and the storage also
// writes it into the checkpoint itself so a savepoint directory is self-describing.
//
// Threading: a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brook/runtime/ids.h"
#include "brook/runtime/stream_element.h"

namespace brook {

struct TaskCheckpointRecord {
  std::string task_name;
  std::string vertex;  // as given to CheckpointStorage::CreateWriter
  int subtask = 0;
  std::string state_handle;
  uint64_t state_size = 0;
  int64_t sync_ns = 0;
  int64_t async_ns = 0;
  int64_t alignment_ns = 0;
  bool operator==(const TaskCheckpointRecord&) const = default;
};

struct CheckpointMetadata {
  std::string job_id;
  CheckpointId checkpoint_id;
  Timestamp trigger_time = 0;     // ms since the epoch
  Timestamp completion_time = 0;  // ms since the epoch
  CheckpointKind kind = CheckpointKind::kCheckpoint;
  std::vector<TaskCheckpointRecord> tasks;

  uint64_t TotalSize() const;
  std::string Encode() const;
  // Throws SerdeError if `bytes` is not an encoded CheckpointMetadata.
  static CheckpointMetadata Decode(std::string_view bytes);
  bool operator==(const CheckpointMetadata&) const = default;
};

}  // namespace brook
