// CheckpointStorage: where checkpoints live. One LMDB environment per checkpoint, under a
// configured directory:
//
//   <directory>/<job id>/chk-<checkpoint id>/data.mdb     (a savepoint: any directory, same layout)
//
// keyed inside by vertex / operator / subtask / key group:
//   T \0 vertex \0 subtask            -> the subtask's record: parallelism, max parallelism,
//                                        operator ids, checkpoint id and time, channel state
//   O \0 vertex \0 operator \0 subtask -> operator state (OperatorStateStore bytes)
//   K \0 vertex \0 operator \0 subtask \0 key group -> that key group's keyed entries
//   M                                 -> CheckpointMetadata, written when the checkpoint completed
// (numbers as fixed-width decimal, so byte order is numeric order and a key-group range is one
// cursor scan). Values are Serde encodings of strings and integers: portable across machines of
// any endianness-independent build, which is what makes a savepoint outlive its job.
//
// Tasks write through CreateWriter()'s TaskSnapshotWriter (on the snapshot executor); the
// coordinator calls CompleteCheckpoint() with the metadata once every task acknowledged, which
// also applies retention (keep the last N completed; older ones, and incomplete ones older than
// the newest completed, are deleted). A failed or timed-out checkpoint is Discard()ed. A restored
// subtask reads its share with LoadTaskState(): keyed entries of the key groups it now owns
// (key_group_redistribution.h), operator state redistributed by each state's mode when the
// parallelism changed (its own otherwise), and unaligned channel state (same parallelism only).
//
// Errors: throws std::runtime_error with the path and LMDB's message (I/O, map full, a
// directory that is not a checkpoint), SerdeError for corrupt contents. Durability: each write is
// synced to disk before it returns. A task snapshot is committed in batches of a few tens of MiB
// (so that LMDB does not hold the whole snapshot in memory until one commit) with the task's
// record last: a snapshot whose write failed midway has no record, and its checkpoint never
// completes.
//
// Threading: every method from any thread; writes to one checkpoint are serialized by LMDB's
// writer lock. Life cycle: the storage outlives its writers (and so the snapshot executor's
// jobs that hold them). An environment is open only while a call uses it, and at most once per
// process however many storages there are (LMDB's rule; a MiniCluster's job manager and task
// managers share the process).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brook/checkpoint/checkpoint_metadata.h"
#include "brook/runtime/task_snapshot.h"

namespace brook {

struct CheckpointStorageOptions {
  std::string directory;               // created if missing
  size_t map_size = size_t{64} << 30;  // per checkpoint: address space reserved, not disk used
  int retained_checkpoints = 3;        // completed checkpoints kept per job (at least 1)
};

// One subtask of a job's vertex, as checkpoints name it.
struct SubtaskLocation {
  std::string vertex;  // stable across runs (the vertex's id or uid); no '\0'
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = 128;
};

class CheckpointStorage {
 public:
  // Throws std::runtime_error if the directory cannot be created.
  explicit CheckpointStorage(CheckpointStorageOptions options);
  ~CheckpointStorage();
  CheckpointStorage(const CheckpointStorage&) = delete;
  CheckpointStorage& operator=(const CheckpointStorage&) = delete;

  const CheckpointStorageOptions& options() const { return options_; }

  // A writer for one subtask's snapshots (handed to StreamTask::SetCheckpointing).
  std::unique_ptr<TaskSnapshotWriter> CreateWriter(std::string job_id, SubtaskLocation location);
  // What the writer does: stores the snapshot in checkpoint snapshot.checkpoint_id's environment
  // and returns its handle "<checkpoint directory>#<vertex>#<subtask>".
  std::string WriteTaskSnapshot(const std::string& job_id, const SubtaskLocation& location,
                                const TaskSnapshot& snapshot);

  std::string CheckpointDirectory(const std::string& job_id, CheckpointId id) const;

  // Marks the checkpoint complete (writes `metadata` into it), then applies retention.
  void CompleteCheckpoint(const CheckpointMetadata& metadata);
  // Completed checkpoints of the job on disk, oldest first.
  std::vector<CheckpointId> CompletedCheckpoints(const std::string& job_id);
  // The metadata of the checkpoint or savepoint at `directory`; nullopt if it never completed.
  std::optional<CheckpointMetadata> ReadMetadata(const std::string& directory);
  // Deletes the checkpoint (a failed, aborted or timed-out one, or one retention dropped).
  void Discard(const std::string& job_id, CheckpointId id);
  void ApplyRetention(const std::string& job_id);

  // The state subtask `location` restores from the completed checkpoint or savepoint at
  // `directory`, at its (possibly new) parallelism. A vertex absent from the checkpoint gets an
  // empty snapshot. Keyed entries are not loaded here: each operator's keyed_view reads them out
  // of the checkpoint key group by key group when the restore asks for them (it holds the
  // checkpoint's environment open meanwhile), so a restore never holds the whole keyed state as
  // entries. Throws std::runtime_error if `directory` holds no completed checkpoint, the
  // max parallelism differs, or channel state would have to be rescaled.
  TaskSnapshot LoadTaskState(const std::string& directory, const SubtaskLocation& location);

  // Copies completed checkpoint `id` into `target_directory` (created; must not hold a
  // checkpoint already) as a savepoint: a compacted copy of the same layout.
  void WriteSavepoint(const std::string& job_id, CheckpointId id,
                      const std::string& target_directory);

 private:
  class Environment;
  class StoredKeyedView;
  // The environment of `directory` (created if `create`), shared with every other user in the
  // process, closed when the last one lets go.
  std::shared_ptr<Environment> EnvironmentAt(const std::string& directory, bool create);

  const CheckpointStorageOptions options_;
};

}  // namespace brook
