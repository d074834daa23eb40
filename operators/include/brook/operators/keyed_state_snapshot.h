// KeyedStateSnapshot<K>: takes a keyed operator's state into checkpoints: every entry of its
// keyed state backend (through the backend's portable Snapshot/Restore StateEntry API) and every
// keyed timer, each tagged with its key's key group so a restore with another parallelism takes
// exactly the key groups it owns. KeyedSupport registers one with the operator's
// OperatorStateRegistry, so keyed operators are checkpointed without code of their own.
//
// Timers are entries of the reserved states "_timers/event" and "_timers/processing":
//   key: Serde<K>(key); value: Serde<std::pair<int64_t time, int64_t namespace>>.
//
// Threading: the task thread only. Life cycle: registered while its KeyedSupport is open.
#pragma once

#include <span>
#include <string>
#include <utility>

#include "brook/runtime/keyed_timer_service.h"
#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/keyed_state_backend.h"

namespace brook {

inline constexpr const char* kEventTimersState = "_timers/event";
inline constexpr const char* kProcessingTimersState = "_timers/processing";

template <typename K>
class KeyedStateSnapshot final : public CheckpointedState {
 public:
  KeyedStateSnapshot(KeyedStateBackend<K>* backend, KeyedTimerService<K>* timers)
      : backend_(backend), timers_(timers) {}

  // The task thread's part: the backend's view (O(key groups) in memory; LMDB writes its cache
  // back and opens a read transaction) and the timers; the view is read later.
  void SnapshotState(SnapshotContext& context) override {
    context.AddKeyedView(backend_->TakeView());
    const int max_parallelism = backend_->max_parallelism();
    timers_->ForEachTimer([&](const typename KeyedTimerService<K>::Timer& t, TimeDomain domain) {
      StateEntry entry;
      entry.key_group = KeyGroupFor(t.key, max_parallelism).value();
      entry.state_name =
          domain == TimeDomain::kEventTime ? kEventTimersState : kProcessingTimersState;
      entry.key = Encode(t.key);
      entry.value = Encode(std::pair<int64_t, int64_t>(t.time, t.ns));
      context.AddKeyedEntry(std::move(entry));
    });
  }

  // Entries of key groups outside this subtask's range are skipped.
  void InitializeState(InitializationContext& context) override {
    for (const StateEntry& entry : context.keyed_entries()) {
      if (!backend_->key_groups().Contains(KeyGroup(entry.key_group))) continue;
      const bool event = entry.state_name == kEventTimersState;
      if (event || entry.state_name == kProcessingTimersState) {
        typename KeyedTimerService<K>::Timer timer;
        timer.key = Decode<K>(entry.key);
        auto [time, ns] = Decode<std::pair<int64_t, int64_t>>(entry.value);
        timer.time = time;
        timer.ns = ns;
        timers_->RestoreTimer(timer, event ? TimeDomain::kEventTime : TimeDomain::kProcessingTime);
      } else {
        backend_->Restore(entry);
      }
    }
    backend_->Flush();
  }

 private:
  template <typename T>
  static std::string Encode(const T& value) {
    std::vector<std::byte> bytes = Serialize(value);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  template <typename T>
  static T Decode(const std::string& bytes) {
    return Deserialize<T>(std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  }

  KeyedStateBackend<K>* backend_;
  KeyedTimerService<K>* timers_;
};

}  // namespace brook
