// The checkpointed state of one operator subtask, as its task snapshots and restores it:
//
// - the operator's OperatorStateStore (list, union-list and broadcast state: source offsets,
//   pending transactions; redistributed on rescale by the store's modes);
// - the CheckpointedState components that register themselves when the operator opens (the
//   keyed state backend and keyed timers of KeyedSupport), each writing StateEntry values tagged
//   with key groups.
//
// Snapshot (task thread, at a barrier): the operator's SnapshotState() hook runs first (it may
// put offsets into the store), then every registered component, then the store is serialized.
// Restore: the task hands the registry the operator's restored OperatorSnapshot before Open();
// the store is restored at once, and each component is initialized from the keyed entries as it
// registers (so a backend created in Open() is filled before the first record); then the
// operator's InitializeState() hook runs after Open().
//
// Threading: the task thread only. Life cycle: owned by the task, one per operator, reached by
// operators through RuntimeContext::state_registry (nullptr in harnesses without checkpoints).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/state/operator_state.h"
#include "brook/runtime/stream_element.h"
#include "brook/runtime/task_snapshot.h"

namespace brook {

// Handed to the snapshot hooks of one operator for checkpoint `checkpoint_id()`.
class SnapshotContext {
 public:
  // Keyed views are kept in `out.keyed_view`, to be read asynchronously (the task's way).
  SnapshotContext(const CheckpointBarrier& barrier, OperatorStateStore& store, OperatorSnapshot& out)
      : barrier_(barrier), store_(store), keyed_(out.keyed), view_(&out.keyed_view) {}
  // Keyed views are read into `keyed` at once (harnesses that want plain entries).
  SnapshotContext(const CheckpointBarrier& barrier, OperatorStateStore& store,
                  std::vector<StateEntry>& keyed)
      : barrier_(barrier), store_(store), keyed_(keyed) {}

  CheckpointId checkpoint_id() const { return barrier_.id; }
  Timestamp timestamp() const { return barrier_.trigger_time; }
  CheckpointKind kind() const { return barrier_.kind; }
  OperatorStateStore& operator_state() { return store_; }
  // Adds one entry of keyed state (any state name; timers use names starting with "_timers").
  void AddKeyedEntry(StateEntry entry) { keyed_.push_back(std::move(entry)); }
  // Adds a keyed state backend's view, read after the task moved on (at most one per operator;
  // its entries must not repeat those added with AddKeyedEntry).
  void AddKeyedView(std::shared_ptr<KeyedStateView> view) {
    if (view_ == nullptr) {
      view->ForEachEntry([&](const StateEntry& e) { keyed_.push_back(e); });
      return;
    }
    BROOK_CHECK(*view_ == nullptr, "an operator snapshot holds at most one keyed view");
    *view_ = std::move(view);
  }

 private:
  const CheckpointBarrier& barrier_;
  OperatorStateStore& store_;
  std::vector<StateEntry>& keyed_;
  std::shared_ptr<KeyedStateView>* view_ = nullptr;  // null: views are read at once
};

// Handed to InitializeState hooks: the restored state, if the task was started from a checkpoint.
class InitializationContext {
 public:
  InitializationContext(std::optional<CheckpointId> restored_from, OperatorStateStore& store,
                        const std::vector<StateEntry>& keyed)
      : restored_from_(restored_from), store_(store), keyed_(keyed) {}

  bool is_restored() const { return restored_from_.has_value(); }
  // The checkpoint the state comes from. REQUIRES: is_restored().
  CheckpointId restored_checkpoint_id() const { return *restored_from_; }
  OperatorStateStore& operator_state() { return store_; }
  // Keyed entries of this subtask's key groups (already filtered by the task's restore plan).
  const std::vector<StateEntry>& keyed_entries() const { return keyed_; }

 private:
  std::optional<CheckpointId> restored_from_;
  OperatorStateStore& store_;
  const std::vector<StateEntry>& keyed_;
};

// A part of an operator's state that takes part in checkpoints (KeyedSupport, say).
class CheckpointedState {
 public:
  virtual ~CheckpointedState() = default;
  virtual void SnapshotState(SnapshotContext& context) = 0;
  virtual void InitializeState(InitializationContext& context) = 0;
};

class OperatorStateRegistry {
 public:
  explicit OperatorStateRegistry(std::string operator_id) : operator_id_(std::move(operator_id)) {}
  OperatorStateRegistry(const OperatorStateRegistry&) = delete;
  OperatorStateRegistry& operator=(const OperatorStateRegistry&) = delete;

  const std::string& operator_id() const { return operator_id_; }
  OperatorStateStore& operator_state() { return store_; }

  // Before Open(): the state to restore. Throws SerdeError on corrupt operator-state bytes.
  void SetRestoredState(CheckpointId from, OperatorSnapshot snapshot) {
    restored_from_ = from;
    restored_keyed_ = std::move(snapshot.keyed);
    store_.Restore(snapshot.operator_state);
  }
  std::optional<CheckpointId> restored_from() const { return restored_from_; }

  // `state` takes part in snapshots until Unregister (or the end of the task); if the task
  // restores, it is initialized now. REQUIRES: `state` outlives its registration.
  void Register(CheckpointedState* state) {
    components_.push_back(state);
    if (restored_from_) {
      InitializationContext context(restored_from_, store_, restored_keyed_);
      state->InitializeState(context);
    }
  }
  void Unregister(CheckpointedState* state) {
    components_.erase(std::remove(components_.begin(), components_.end(), state),
                      components_.end());
  }

  InitializationContext MakeInitializationContext() {
    return InitializationContext(restored_from_, store_, restored_keyed_);
  }
  // The keyed entries are only needed until every component registered (after Open()).
  void DropRestoredEntries() { std::vector<StateEntry>().swap(restored_keyed_); }

  // Snapshots the registered components and the store into `out` (the operator's own hook has
  // run before, with the same context).
  void SnapshotComponents(SnapshotContext& context) {
    for (CheckpointedState* state : components_) state->SnapshotState(context);
  }

 private:
  const std::string operator_id_;
  OperatorStateStore store_;
  std::vector<CheckpointedState*> components_;
  std::optional<CheckpointId> restored_from_;
  std::vector<StateEntry> restored_keyed_;
};

}  // namespace brook
