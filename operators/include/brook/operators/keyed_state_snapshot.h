// KeyedStateSnapshot<K>: takes a keyed operator's state into checkpoints: every entry of its
// keyed state backend (through the backend's portable Snapshot/Restore StateEntry API) and every
// keyed timer, each tagged with its key's key group so a restore with another parallelism takes
// exactly the key groups it owns. KeyedSupport registers one with the operator's
// OperatorStateRegistry, so keyed operators are checkpointed without code of their own.
//
// Timers are entries of the reserved states "_timers/event" and "_timers/processing":
//   key: Serde<K>(key); value: Serde<std::pair<int64_t time, int64_t namespace>>.
// At a barrier the task thread only takes the backend's view and shares the timer sets (both
// copy-on-write); entries are made when the snapshot executor writes the view.
//
// Threading: the task thread only. Life cycle: registered while its KeyedSupport is open.
#pragma once

#include <algorithm>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // back and opens a read transaction) and the timer sets, shared (O(1)); all read later.
  void SnapshotState(SnapshotContext& context) override {
    context.AddKeyedView(std::make_shared<View>(backend_->TakeView(), timers_->ShareTimers(),
                                                backend_->max_parallelism(),
                                                backend_->key_groups()));
  }

  // Streams the restored entries into the backend and the timers. Entries of key groups outside
  // this subtask's range are skipped. Timers are collected first and inserted into their sets in
  // order (RestoreTimers): inserting them one by one, in key-group order, is a random insertion
  // into an ordered set per timer.
  void InitializeState(InitializationContext& context) override {
    std::vector<Timer> event_timers, processing_timers;
    context.ForEachKeyedEntry([&](const StateEntry& entry) {
      if (!backend_->key_groups().Contains(KeyGroup(entry.key_group))) return;
      const bool event = entry.state_name == kEventTimersState;
      if (event || entry.state_name == kProcessingTimersState) {
        Timer timer;
        timer.key = Decode<K>(entry.key);
        auto [time, ns] = Decode<std::pair<int64_t, int64_t>>(entry.value);
        timer.time = time;
        timer.ns = ns;
        (event ? event_timers : processing_timers).push_back(std::move(timer));
      } else {
        backend_->Restore(entry);
      }
    });
    backend_->Flush();
    timers_->RestoreTimers(std::move(event_timers), std::move(processing_timers));
  }

 private:
  using Timer = typename KeyedTimerService<K>::Timer;

  // The backend's view with the timers merged in, key group by key group (the order views
  // promise): the timers, ordered by time in their sets, are bucketed by key group first.
  class View final : public KeyedStateView {
   public:
    View(std::unique_ptr<KeyedStateView> state, typename KeyedTimerService<K>::SharedTimers timers,
         int max_parallelism, KeyGroupRange groups)
        : state_(std::move(state)), timers_(std::move(timers)),
          max_parallelism_(max_parallelism), groups_(groups) {}

   protected:
    void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override {
      // Counting sort of the timers by key group.
      const size_t num_groups = size_t(std::max(groups_.size(), 0));
      std::vector<size_t> starts(num_groups + 1, 0);
      std::vector<int32_t> timer_groups;
      timer_groups.reserve(timers_.event->size() + timers_.processing->size());
      for (const auto* set : {timers_.event.get(), timers_.processing.get()}) {
        for (const Timer& t : *set) {
          const int32_t group = KeyGroupFor(t.key, max_parallelism_).value();
          if (!groups_.Contains(KeyGroup(group)))
            throw std::runtime_error("a timer's key is outside the subtask's key groups");
          timer_groups.push_back(group);
          ++starts[size_t(group - groups_.first) + 1];
        }
      }
      for (size_t g = 0; g < num_groups; ++g) starts[g + 1] += starts[g];
      std::vector<std::pair<const Timer*, bool>> ordered(timer_groups.size());  // timer, event?
      {
        std::vector<size_t> next(starts.begin(), starts.end() - 1);
        size_t i = 0;
        for (const auto* set : {timers_.event.get(), timers_.processing.get()}) {
          const bool event = set == timers_.event.get();
          for (const Timer& t : *set)
            ordered[next[size_t(timer_groups[i++] - groups_.first)]++] = {&t, event};
        }
      }
      std::vector<int32_t>().swap(timer_groups);

      StateEntry entry;
      std::vector<std::byte> scratch;
      size_t next_group = 0;  // timers of groups before it were emitted
      auto emit_timers_through = [&](int32_t group) {
        for (; next_group < num_groups && groups_.first + int32_t(next_group) <= group; ++next_group) {
          entry.key_group = groups_.first + int32_t(next_group);
          for (size_t i = starts[next_group]; i < starts[next_group + 1]; ++i) {
            const auto& [timer, event] = ordered[i];
            entry.state_name = event ? kEventTimersState : kProcessingTimersState;
            scratch.clear();
            {
              BufferWriter w(scratch);
              Serde<K>::Write(w, timer->key);
            }
            entry.key.assign(reinterpret_cast<const char*>(scratch.data()), scratch.size());
            scratch.clear();
            {
              BufferWriter w(scratch);
              Serde<std::pair<int64_t, int64_t>>::Write(w, {timer->time, timer->ns});
            }
            entry.value.assign(reinterpret_cast<const char*>(scratch.data()), scratch.size());
            sink(entry);
          }
        }
      };
      state_->ForEachEntry([&](const StateEntry& e) {
        emit_timers_through(e.key_group);
        sink(e);
      });
      emit_timers_through(groups_.last);
    }

    void ReleaseImpl() override {
      state_->Release();
      timers_ = {};
    }

   private:
    const std::unique_ptr<KeyedStateView> state_;
    typename KeyedTimerService<K>::SharedTimers timers_;
    const int max_parallelism_;
    const KeyGroupRange groups_;
  };

  template <typename T>
  static T Decode(std::string_view bytes) {
    return Deserialize<T>(std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  }

  KeyedStateBackend<K>* backend_;
  KeyedTimerService<K>* timers_;
};

}  // namespace brook
