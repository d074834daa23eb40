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
// the store is restored at once; after Open() the task initializes the components registered
// there from the keyed entries (InitializeComponents: a backend created in Open() is filled
// before the first record, and the states declared in Open() already exist); then the
// operator's InitializeState() hook runs.
//
// Threading: the task thread only. Life cycle: owned by the task, one per operator, reached by
// operators through RuntimeContext::state_registry (nullptr in harnesses without checkpoints).
#pragma once

#include <algorithm>
#include <functional>
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
// Keyed entries come from the restored OperatorSnapshot: its `keyed` list and its keyed view,
// which streams them out of checkpoint storage key group by key group, so that a restore never
// holds the whole keyed state as entries (see OperatorSnapshot).
class InitializationContext {
 public:
  InitializationContext(std::optional<CheckpointId> restored_from, OperatorStateStore& store,
                        const std::vector<StateEntry>& keyed,
                        std::shared_ptr<KeyedStateView> keyed_view = nullptr)
      : restored_from_(restored_from), store_(store), keyed_(keyed),
        keyed_view_(std::move(keyed_view)) {}

  bool is_restored() const { return restored_from_.has_value(); }
  // The checkpoint the state comes from. REQUIRES: is_restored().
  CheckpointId restored_checkpoint_id() const { return *restored_from_; }
  OperatorStateStore& operator_state() { return store_; }
  // Calls `fn` with every keyed entry of this subtask's key groups (already filtered by the
  // task's restore plan); an entry is valid only during the call. Each call reads them again.
  // Throws what reading checkpoint storage throws (std::runtime_error, SerdeError).
  void ForEachKeyedEntry(const std::function<void(const StateEntry&)>& fn) {
    for (const StateEntry& e : keyed_) fn(e);
    if (keyed_view_) keyed_view_->ForEachEntry(fn);
  }

 private:
  std::optional<CheckpointId> restored_from_;
  OperatorStateStore& store_;
  const std::vector<StateEntry>& keyed_;
  std::shared_ptr<KeyedStateView> keyed_view_;
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
    restored_view_ = std::move(snapshot.keyed_view);
    store_.Restore(snapshot.operator_state);
  }
  std::optional<CheckpointId> restored_from() const { return restored_from_; }

  // `state` takes part in snapshots until Unregister (or the end of the task). REQUIRES: `state`
  // outlives its registration. If the task restores, `state` is initialized from the restored
  // entries by InitializeComponents(), or now if that has run: components register in Open(),
  // and initializing them after Open() lets a keyed backend fill the states the operator
  // declared there directly, instead of holding entries for states not declared yet.
  void Register(CheckpointedState* state) {
    components_.push_back(state);
    if (!restored_from_) return;
    if (components_initialized_) {
      InitializeComponent(state);
    } else {
      uninitialized_.push_back(state);
    }
  }
  void Unregister(CheckpointedState* state) {
    components_.erase(std::remove(components_.begin(), components_.end(), state),
                      components_.end());
    uninitialized_.erase(std::remove(uninitialized_.begin(), uninitialized_.end(), state),
                         uninitialized_.end());
  }
  // After Open(): initializes the components registered so far from the restored entries (in
  // registration order); later ones are initialized as they register.
  void InitializeComponents() {
    components_initialized_ = true;
    std::vector<CheckpointedState*> pending;
    pending.swap(uninitialized_);
    for (CheckpointedState* state : pending) InitializeComponent(state);
  }

  InitializationContext MakeInitializationContext() {
    return InitializationContext(restored_from_, store_, restored_keyed_, restored_view_);
  }
  // The keyed entries are only needed until every component registered and was initialized
  // (after Open()).
  void DropRestoredEntries() {
    std::vector<StateEntry>().swap(restored_keyed_);
    restored_view_.reset();
  }

  // Snapshots the registered components and the store into `out` (the operator's own hook has
  // run before, with the same context).
  void SnapshotComponents(SnapshotContext& context) {
    for (CheckpointedState* state : components_) state->SnapshotState(context);
  }

 private:
  void InitializeComponent(CheckpointedState* state) {
    InitializationContext context = MakeInitializationContext();
    state->InitializeState(context);
  }

  const std::string operator_id_;
  OperatorStateStore store_;
  std::vector<CheckpointedState*> components_;
  std::vector<CheckpointedState*> uninitialized_;  // registered, not yet restored
  bool components_initialized_ = false;
  std::optional<CheckpointId> restored_from_;
  std::vector<StateEntry> restored_keyed_;
  std::shared_ptr<KeyedStateView> restored_view_;
};

}  // namespace brook
