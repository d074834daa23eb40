// TriggerContext<K, W>: what a trigger (windows.h) sees while it decides about one key's window:
// timers scoped to that key and window, the current event and processing time, and keyed state
// scoped to the window (getPartitionedState), as Flink's Trigger.TriggerContext and
// OnMergeContext.
//
// The window operator points the context at a (key, window) before each trigger call; what it
// returns (state references) is scoped to that window until the next trigger call, so a trigger
// asks for its state in every call rather than keeping the reference.
//
// Threading: the task thread. Lifetime: owned by the window operator, valid while it is open.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "brook/operators/keyed_support.h"
#include "brook/runtime/state/state_backends.h"

namespace brook {

template <typename K, typename W>
class TriggerContext {
 public:
  using Clock = std::function<Timestamp()>;

  TriggerContext(KeyedSupport<K>* support, const Clock* clock) : support_(support), clock_(clock) {}
  TriggerContext(const TriggerContext&) = delete;
  TriggerContext& operator=(const TriggerContext&) = delete;

  // --- for triggers --------------------------------------------------------------------------

  const K& getCurrentKey() const { return support_->current_key(); }
  const W& window() const { return *window_; }
  Timestamp getCurrentWatermark() const { return support_->timers().current_watermark(); }
  Timestamp getCurrentProcessingTime() const { return (*clock_)(); }
  // In onElement: whether this element is the first of the window's contents (it created the
  // window's state). Triggers register their per-window timers then, not for every element.
  bool windowIsNew() const { return window_is_new_; }

  void registerEventTimeTimer(Timestamp time) {
    support_->timers().RegisterEventTimeTimer(getCurrentKey(), window_ns_, time);
  }
  void deleteEventTimeTimer(Timestamp time) {
    support_->timers().DeleteEventTimeTimer(getCurrentKey(), window_ns_, time);
  }
  void registerProcessingTimeTimer(Timestamp time) {
    support_->timers().RegisterProcessingTimeTimer(getCurrentKey(), window_ns_, time);
  }
  void deleteProcessingTimeTimer(Timestamp time) {
    support_->timers().DeleteProcessingTimeTimer(getCurrentKey(), window_ns_, time);
  }

  // Keyed state of the current key and window. Names must not clash with the operator's own
  // states ("window-contents", "window-sessions").
  template <typename V>
  ValueState<V>& getPartitionedState(const ValueStateDescriptor<V>& d) {
    return Scoped(support_->backend().GetState(d));
  }
  template <typename V, typename F>
  ReducingState<V>& getPartitionedState(const ReducingStateDescriptor<V, F>& d) {
    return Scoped(support_->backend().GetReducingState(d));
  }
  template <typename V>
  ListState<V>& getPartitionedState(const ListStateDescriptor<V>& d) {
    return Scoped(support_->backend().GetListState(d));
  }

  // In onMerge: folds the state of the windows being merged into that of the merged window
  // (and clears theirs).
  template <typename V, typename F>
  void mergePartitionedState(const ReducingStateDescriptor<V, F>& d) {
    support_->backend().GetReducingState(d).MergeNamespaces(window_ns_, *merged_namespaces_);
  }
  template <typename V>
  void mergePartitionedState(const ListStateDescriptor<V>& d) {
    support_->backend().GetListState(d).MergeNamespaces(window_ns_, *merged_namespaces_);
  }
  // combine(const V& into, const V& from) -> V.
  template <typename V, typename Combine>
  void mergePartitionedState(const ValueStateDescriptor<V>& d, Combine combine) {
    ValueState<V>& state = support_->backend().GetState(d);
    std::optional<V> merged;
    for (int64_t ns : *merged_namespaces_) {
      if (ns == window_ns_) continue;
      state.SetNamespace(ns);
      if (std::optional<V> v = state.value()) {
        merged = merged ? combine(std::as_const(*merged), *v) : std::move(*v);
        state.clear();
      }
    }
    if (!merged) return;
    state.SetNamespace(window_ns_);
    std::optional<V> current = state.value();
    state.update(current ? combine(std::as_const(*current), *merged) : *merged);
  }

  // --- for the window operator ---------------------------------------------------------------

  // Points the context at `window` (of the current key), whose timers and trigger state live in
  // namespace `window_ns`. REQUIRES: `window` outlives the trigger call.
  void Bind(const W& window, int64_t window_ns, bool is_new = false) {
    window_ = &window;
    window_ns_ = window_ns;
    window_is_new_ = is_new;
  }
  // The namespaces of the windows an onMerge call merges. REQUIRES: outlives the call.
  void SetMergedNamespaces(const std::vector<int64_t>* namespaces) {
    merged_namespaces_ = namespaces;
  }

 private:
  template <typename S>
  S& Scoped(S& state) {
    state.SetNamespace(window_ns_);
    return state;
  }

  KeyedSupport<K>* support_;
  const Clock* clock_;
  const W* window_ = nullptr;
  int64_t window_ns_ = 0;
  bool window_is_new_ = false;
  const std::vector<int64_t>* merged_namespaces_ = nullptr;
};

}  // namespace brook
