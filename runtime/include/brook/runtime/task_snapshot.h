// What a task's checkpoint consists of, and the interfaces through which a task hands it on.
// The runtime defines them; the checkpoint component (storage) and the cluster (task manager,
// which answers the coordinator by RPC) implement them, so dependencies keep pointing down.
//
//   task thread (sync part)            snapshot executor (async part)       coordinator side
//   operators -> TaskSnapshot  ------> TaskSnapshotWriter::Write --------> CheckpointResponder
//                                      (storage, returns a handle)          ::Acknowledge(ack)
//
// A TaskSnapshot holds, per operator of the chain (matched on restore by operator_id):
//   keyed:           keyed state and keyed timers as StateEntry, each with its key group, so a
//                    restore with another parallelism takes the key groups it now owns;
//   operator_state:  OperatorStateStore bytes (split/union lists, broadcast state: source
//                    offsets, pending transactions), redistributed by OperatorStateStore::Redistribute;
// and, for unaligned checkpoints, the records that were in flight on the task's input channels.
//
// Threading: plain values; the interfaces say who calls them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brook/runtime/checkpoint_barrier_handler.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/state/keyed_state_backend.h"

namespace brook {

struct OperatorSnapshot {
  // Stable across runs of the job: the node's uid when set, else its node id (see
  // RuntimeContext::operator_id).
  std::string operator_id;
  std::vector<StateEntry> keyed;
  std::string operator_state;
  // The keyed state backend's entries, taken at the barrier as a view (KeyedStateView) and read
  // when the snapshot is written, on the snapshot executor: they belong with `keyed`, and
  // AllKeyedEntries() joins the two. Shared, because a TaskSnapshot is a copyable value and
  // copies read the same view; released once written. Not compared by ==.
  std::shared_ptr<KeyedStateView> keyed_view;

  // `keyed` plus the view's entries (reads the view).
  std::vector<StateEntry> AllKeyedEntries() const;
  bool operator==(const OperatorSnapshot&) const;
};

struct TaskSnapshot {
  CheckpointId checkpoint_id;
  Timestamp timestamp = 0;
  std::vector<OperatorSnapshot> operators;  // chain order
  ChannelState channel_state;               // unaligned only; empty otherwise

  // Bytes of keyed entries, operator state and channel state: the size reported in acks. Keyed
  // views count what they delivered when last read (KeyedStateView::bytes).
  size_t StateSize() const;
  const OperatorSnapshot* Find(std::string_view operator_id) const;
  bool operator==(const TaskSnapshot&) const;
};

// The portable encoding (Serde of tuples of strings and integers, versioned by its first byte).
// Keyed views are read into the encoding (decoded, they are plain `keyed` entries).
std::string EncodeTaskSnapshot(const TaskSnapshot& snapshot);
// Throws SerdeError on bytes that are not an encoded TaskSnapshot.
TaskSnapshot DecodeTaskSnapshot(std::string_view bytes);

// Where a task's snapshot goes: implemented by the checkpoint storage, scoped to one subtask.
class TaskSnapshotWriter {
 public:
  virtual ~TaskSnapshotWriter() = default;
  // Called on the snapshot executor's thread, possibly for several checkpoints one after the
  // other. Writes durably and returns the handle that locates the snapshot (opaque to the task,
  // carried in the ack); reads each operator's keyed view, if any, while writing. Throws
  // std::exception on failure (the task declines the checkpoint).
  virtual std::string Write(const TaskSnapshot& snapshot) = 0;
};

// A task's answer for one checkpoint.
struct CheckpointAck {
  std::string task_name;  // "Vertex (2/4)"
  CheckpointId checkpoint_id;
  std::string state_handle;  // from TaskSnapshotWriter::Write
  size_t state_size = 0;     // bytes
  int64_t sync_ns = 0;       // snapshot on the task thread
  int64_t async_ns = 0;      // writing, on the snapshot executor
  int64_t alignment_ns = 0;  // first to last barrier (aligned, at-least-once, unaligned)
};

// Implemented by the task manager (an RPC to the coordinator) or by tests.
// Threading: Acknowledge and Decline come from the snapshot executor's thread or the task
// thread; implementations must be thread-safe.
class CheckpointResponder {
 public:
  virtual ~CheckpointResponder() = default;
  virtual void Acknowledge(const CheckpointAck& ack) = 0;
  virtual void Decline(const std::string& task_name, CheckpointId id, const std::string& reason) = 0;
};

}  // namespace brook
