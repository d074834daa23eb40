// WindowOperator: keyed windows with any assigner, trigger and window function, as Flink's
// WindowOperator. Each record goes into the contents of each window the assigner gives it (one
// state entry per key and window; namespace: the window's end, 0 for the global window, or for
// sessions the id of the session's state window), then the trigger decides whether the window
// fires and/or purges. Timers registered through the TriggerContext call the trigger back.
//
// Per window, besides the trigger's timers, a cleanup timer at maxTimestamp + allowedLateness
// (event time) or maxTimestamp (processing time) clears the contents and the trigger's state.
// Both are registered when the window's contents are created, never per record.
//
// Session windows (merging assigners) keep each key's live windows in a MergingWindowSet stored
// as keyed state ("window-sessions"). When a record bridges or extends sessions they merge: the
// trigger's onMerge registers the merged window's timers, the merged windows' timers and trigger
// state are cleared, and their contents are folded into one state window (MergeNamespaces).
// Timers and trigger state of a session live in the namespace SessionWindowId(window).
//
// Lateness: a window is late once the watermark reached its cleanup time; a record whose every
// window is late goes to the late side output, or is dropped and counted.
//
// For tumbling/sliding windows with reduce/aggregate and the default trigger, the job builder
// uses SlicingWindowOperator (window_slicing_operator.h) instead.
//
// Threading: the task thread. Life cycle: window_operator_base.h.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "brook/operators/window_merging.h"
#include "brook/operators/window_operator_base.h"
#include "brook/operators/window_trigger_context.h"

namespace brook {

template <typename K, typename In, typename Out, typename KeySelector, typename Assigner,
          typename Function>
class WindowOperator final
    : public WindowOperatorBase<K, In, Out, KeySelector, Assigner, Function> {
  using Base = WindowOperatorBase<K, In, Out, KeySelector, Assigner, Function>;
  using typename Base::Timer;
  using typename Base::W;
  using Trigger = typename Assigner::Trigger;
  using Context = TriggerContext<K, W>;
  using Sessions = MergingWindowSet<Assigner>;
  static constexpr bool kMerging = Assigner::kMerging;
  static_assert(
      !kMerging || requires(Trigger & t, const W& w, Context& c) { t.onMerge(w, c); },
      "this trigger cannot be used with session (merging) windows: it has no onMerge");

 public:
  WindowOperator(KeySelector key_selector, Assigner assigner, Function function,
                 WindowSettings settings)
      : Base(std::move(key_selector), std::move(assigner), std::move(function),
             std::move(settings)),
        trigger_(this->assigner_.DefaultTrigger()) {}

  void Open(RuntimeContext& context) override {
    Base::Open(context);
    trigger_context_ =
        std::make_unique<Context>(&this->support_, &this->settings_.processing_clock);
    if constexpr (kMerging) {
      sessions_ = &this->support_.backend().GetState(
          ValueStateDescriptor<std::vector<MergingWindowEntry>>{"window-sessions"});
    }
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    const Timestamp now = Assigner::kEventTime ? 0 : this->ProcessingTime();
    for (const auto& r : batch.records) {
      const Timestamp t = this->WindowTime(r, now);
      this->support_.SetCurrentKey(this->key_selector_(r.value));
      bool added = false;
      if constexpr (kMerging) {
        added = AddToSession(r, t);
      } else {
        this->assigner_.AssignWindows(t, [&](const W& window) {
          if (IsWindowLate(window)) return;
          added = true;
          const int64_t ns = this->assigner_.Namespace(window);
          AddAndTrigger(r.value, t, window, ns, ns);
        });
      }
      if (!added && this->IsElementLate(t)) this->LateRecord(r);
    }
    this->PushBuffered();
  }

 private:
  bool IsWindowLate(const W& window) const {
    return Assigner::kEventTime &&
           this->CleanupTime(window.maxTimestamp()) <= this->CurrentWatermark();
  }

  // Adds the element to the contents in `state_ns` and asks the trigger; `window_ns` scopes the
  // window's timers and trigger state.
  void AddAndTrigger(const In& value, Timestamp t, const W& window, int64_t window_ns,
                     int64_t state_ns) {
    const bool is_new = this->AddToContents(state_ns, value);
    trigger_context_->Bind(window, window_ns, is_new);
    const TriggerResult result = trigger_.onElement(value, t, window, *trigger_context_);
    if (is_new) RegisterCleanupTimer(window, window_ns);
    if (IsFire(result)) this->EmitContents(window, state_ns);
    if (IsPurge(result)) this->ClearContents(state_ns);
  }

  // Session windows: returns whether the record went into a window (false: too late).
  bool AddToSession(const StreamRecord<In>& r, Timestamp t) {
    Sessions sessions(LoadSessions());
    bool added = false;
    this->assigner_.AssignWindows(t, [&](const TimeWindow& window) {
      const TimeWindow actual = sessions.AddWindow(
          window, [&](const TimeWindow& result, const std::vector<TimeWindow>& merged,
                      const TimeWindow& state_window, const std::vector<TimeWindow>& merged_state) {
            Merge(result, merged, state_window, merged_state);
          });
      if (IsWindowLate(actual)) {
        sessions.Retire(actual);
        return;
      }
      added = true;
      const TimeWindow state_window = *sessions.StateWindow(actual);
      AddAndTrigger(r.value, t, actual, window_internal::SessionWindowId(actual),
                    window_internal::SessionWindowId(state_window));
    });
    if (sessions.changed()) StoreSessions(sessions);
    return added;
  }

  void Merge(const TimeWindow& result, const std::vector<TimeWindow>& merged,
             const TimeWindow& state_window, const std::vector<TimeWindow>& merged_state) {
    using window_internal::SessionWindowId;
    ids_.clear();
    for (const TimeWindow& w : merged) ids_.push_back(SessionWindowId(w));
    trigger_context_->Bind(result, SessionWindowId(result));
    trigger_context_->SetMergedNamespaces(&ids_);
    trigger_.onMerge(result, *trigger_context_);
    trigger_context_->SetMergedNamespaces(nullptr);
    for (const TimeWindow& w : merged) {
      trigger_context_->Bind(w, SessionWindowId(w));
      ClearTrigger(w);
      DeleteCleanupTimer(w, SessionWindowId(w));
    }
    ids_.clear();
    for (const TimeWindow& w : merged_state) ids_.push_back(SessionWindowId(w));
    this->contents_->MergeNamespaces(SessionWindowId(state_window), ids_);
    RegisterCleanupTimer(result, SessionWindowId(result));
  }

  void OnTimer(const Timer& timer, TimeDomain domain) override {
    W window{};
    int64_t state_ns = timer.ns;
    std::optional<Sessions> sessions;
    if constexpr (kMerging) {
      sessions.emplace(LoadSessions());
      const MergingWindowEntry* entry = sessions->FindById(timer.ns);
      if (entry == nullptr) return;  // the window is gone (a trigger left a timer behind)
      window = entry->window;
      state_ns = window_internal::SessionWindowId(entry->state_window);
    } else {
      window = this->assigner_.WindowFor(timer.ns);
    }
    trigger_context_->Bind(window, timer.ns);
    const TriggerResult result =
        domain == TimeDomain::kEventTime
            ? trigger_.onEventTime(timer.time, window, *trigger_context_)
            : trigger_.onProcessingTime(timer.time, window, *trigger_context_);
    if (IsFire(result)) this->EmitContents(window, state_ns);
    if (IsPurge(result)) this->ClearContents(state_ns);
    const bool cleanup_domain = Assigner::kEventTime == (domain == TimeDomain::kEventTime);
    if (cleanup_domain && timer.time == this->CleanupTime(window.maxTimestamp())) {
      this->ClearContents(state_ns);
      trigger_context_->Bind(window, timer.ns);
      ClearTrigger(window);
      if constexpr (kMerging) {
        sessions->Retire(window);
        StoreSessions(*sessions);
      }
    }
    if (domain == TimeDomain::kProcessingTime) this->PushBuffered();  // between batches
  }

  void ClearTrigger(const W& window) {
    if constexpr (requires { trigger_.clear(window, *trigger_context_); })
      trigger_.clear(window, *trigger_context_);
  }

  void RegisterCleanupTimer(const W& window, int64_t ns) {
    const Timestamp time = this->CleanupTime(window.maxTimestamp());
    if (time == kMaxWatermark) return;  // the global window: never cleaned up
    auto& timers = this->support_.timers();
    if constexpr (Assigner::kEventTime) {
      timers.RegisterEventTimeTimer(this->support_.current_key(), ns, time);
    } else {
      timers.RegisterProcessingTimeTimer(this->support_.current_key(), ns, time);
    }
  }
  void DeleteCleanupTimer(const W& window, int64_t ns) {
    const Timestamp time = this->CleanupTime(window.maxTimestamp());
    auto& timers = this->support_.timers();
    if constexpr (Assigner::kEventTime) {
      timers.DeleteEventTimeTimer(this->support_.current_key(), ns, time);
    } else {
      timers.DeleteProcessingTimeTimer(this->support_.current_key(), ns, time);
    }
  }

  std::vector<MergingWindowEntry> LoadSessions() {
    sessions_->SetNamespace(0);
    return sessions_->valueOr({});
  }
  void StoreSessions(const Sessions& sessions) {
    sessions_->SetNamespace(0);
    if (sessions.entries().empty()) {
      sessions_->clear();
    } else {
      sessions_->update(sessions.entries());
    }
  }

  Trigger trigger_;
  std::unique_ptr<Context> trigger_context_;
  ValueState<std::vector<MergingWindowEntry>>* sessions_ = nullptr;  // merging assigners only
  std::vector<int64_t> ids_;                                         // scratch
};

}  // namespace brook
