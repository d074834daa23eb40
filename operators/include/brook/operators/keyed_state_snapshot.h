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
      KeyGroupBlock block;
      ForEachKeyGroupImpl(block, [&](KeyGroupBlock& b) { b.ForEachEntry(sink); });
    }

    // The state's key groups, each with its timers appended, and the key groups that hold only
    // timers in between.
    void ForEachKeyGroupImpl(KeyGroupBlock& block, const KeyGroupSink& sink) override {
      const TimersByGroup timers = BucketTimers();
      const std::vector<std::byte> event_name = Serialize(std::string(kEventTimersState));
      const std::vector<std::byte> processing_name =
          Serialize(std::string(kProcessingTimersState));
      auto append_timers = [&](KeyGroupBlock& b) {
        const size_t index = size_t(b.key_group - groups_.first);
        BlockEntryAppender event(b, event_name), processing(b, processing_name);
        for (size_t i = timers.starts[index]; i < timers.starts[index + 1]; ++i) {
          const auto& [timer, is_event] = timers.ordered[i];
          (is_event ? event : processing)
              .Append(
                  [&](std::vector<std::byte>& bytes) {
                    BufferWriter w(bytes);
                    Serde<K>::Write(w, timer->key);
                  },
                  [&](std::vector<std::byte>& bytes) {
                    BufferWriter w(bytes);
                    Serde<std::pair<int64_t, int64_t>>::Write(w, {timer->time, timer->ns});
                  });
        }
      };
      int32_t next_group = groups_.first;  // groups before it were passed on
      auto timers_only_through = [&](int32_t last) {
        for (; next_group <= last; ++next_group) {
          const size_t index = size_t(next_group - groups_.first);
          if (timers.starts[index] == timers.starts[index + 1]) continue;
          block.Reset(next_group);  // the state's view fills a block of its own
          append_timers(block);
          sink(block);
        }
      };
      state_->ForEachKeyGroup([&](KeyGroupBlock& b) {
        timers_only_through(b.key_group - 1);
        append_timers(b);
        next_group = b.key_group + 1;
        sink(b);
      });
      timers_only_through(groups_.last);
    }

    void ReleaseImpl() override {
      state_->Release();
      timers_ = {};
    }

   private:
    // The timers of both sets by key group (a counting sort): ordered[starts[i]..starts[i+1])
    // are key group groups_.first + i's, each with whether it is an event-time timer.
    struct TimersByGroup {
      std::vector<size_t> starts;
      std::vector<std::pair<const Timer*, bool>> ordered;
    };
    TimersByGroup BucketTimers() const {
      const size_t num_groups = size_t(std::max(groups_.size(), 0));
      TimersByGroup out;
      out.starts.assign(num_groups + 1, 0);
      std::vector<int32_t> timer_groups;
      timer_groups.reserve(timers_.event->size() + timers_.processing->size());
      for (const auto* set : {timers_.event.get(), timers_.processing.get()}) {
        for (const Timer& t : *set) {
          const int32_t group = KeyGroupFor(t.key, max_parallelism_).value();
          if (!groups_.Contains(KeyGroup(group)))
            throw std::runtime_error("a timer's key is outside the subtask's key groups");
          timer_groups.push_back(group);
          ++out.starts[size_t(group - groups_.first) + 1];
        }
      }
      for (size_t g = 0; g < num_groups; ++g) out.starts[g + 1] += out.starts[g];
      out.ordered.resize(timer_groups.size());
      std::vector<size_t> next(out.starts.begin(), out.starts.end() - 1);
      size_t i = 0;
      for (const auto* set : {timers_.event.get(), timers_.processing.get()}) {
        const bool event = set == timers_.event.get();
        for (const Timer& t : *set)
          out.ordered[next[size_t(timer_groups[i++] - groups_.first)]++] = {&t, event};
      }
      return out;
    }

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
