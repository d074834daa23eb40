// What every keyed operator has: a keyed state backend for the key groups of its subtask,
// keyed timers, and the key selector that finds each record's key. Operators own one, open it
// in Open() and close it in Close(); the LMDB backend's working directory is removed on close
// (it is scratch space: durability comes from checkpoints). While open, its state and timers
// take part in the operator's checkpoints (keyed_state_snapshot.h).
//
// Threading: the task thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <utility>

#include "brook/operators/keyed_state_snapshot.h"
#include "brook/runtime/keyed_timer_service.h"
#include "brook/runtime/runtime_context.h"
#include "brook/runtime/state/state_backends.h"

namespace brook {

template <typename K>
class KeyedSupport {
 public:
  using Timer = typename KeyedTimerService<K>::Timer;
  using OnTimer = std::function<void(const Timer&, TimeDomain)>;

  // `on_timer` runs with the timer's key already set as the current key.
  void Open(const RuntimeContext& context, OnTimer on_timer) {
    auto range = KeyGroupRange::ForSubtask(context.subtask_index, context.max_parallelism,
                                           context.parallelism);
    backend_ = MakeKeyedStateBackend<K>(context.state_backend, context.state_scope,
                                        context.max_parallelism, range);
    if (context.state_backend.kind == StateBackendKind::kLmdb)
      lmdb_dir_ = context.state_backend.lmdb_directory + "/" + context.state_scope;
    on_timer_ = std::move(on_timer);
    timers_ = std::make_unique<KeyedTimerService<K>>(
        context.timers, [this](const Timer& timer, TimeDomain domain) {
          backend_->SetCurrentKey(timer.key);
          if (domain == TimeDomain::kEventTime) backend_->SetCurrentRecordTime(timer.time);
          on_timer_(timer, domain);
        });
    registry_ = context.state_registry;
    if (registry_) {
      snapshot_ = std::make_unique<KeyedStateSnapshot<K>>(backend_.get(), timers_.get());
      registry_->Register(snapshot_.get());
    }
  }

  void Close() {
    if (registry_ && snapshot_) registry_->Unregister(snapshot_.get());
    snapshot_.reset();
    registry_ = nullptr;
    timers_.reset();
    backend_.reset();
    if (!lmdb_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(lmdb_dir_, ignored);
    }
  }

  void SetCurrentKey(const K& key) { backend_->SetCurrentKey(key); }
  // The key and event time of the record being processed (the time stamps event-time TTL).
  void SetCurrentKey(const K& key, Timestamp record_time) {
    backend_->SetCurrentKey(key);
    backend_->SetCurrentRecordTime(record_time);
  }
  const K& current_key() const { return backend_->current_key(); }

  // Advances event time: TTL clock, then due event-time timers.
  void AdvanceWatermark(Timestamp watermark) {
    backend_->SetCurrentWatermark(watermark);
    timers_->AdvanceWatermark(watermark);
  }

  KeyedStateBackend<K>& backend() { return *backend_; }
  KeyedTimerService<K>& timers() { return *timers_; }
  const KeyedTimerService<K>& timers() const { return *timers_; }
  Timestamp current_watermark() const { return timers_->current_watermark(); }

 private:
  std::unique_ptr<KeyedStateBackend<K>> backend_;
  std::unique_ptr<KeyedTimerService<K>> timers_;
  OnTimer on_timer_;
  std::filesystem::path lmdb_dir_;
  OperatorStateRegistry* registry_ = nullptr;
  std::unique_ptr<KeyedStateSnapshot<K>> snapshot_;
};

}  // namespace brook
