// MergingWindowSet: the session windows of one key, as Flink's MergingWindowSet. Each live
// window maps to its state window: the window whose namespace holds the contents. When windows
// merge, the merged window keeps the state window of one of them and the contents of the others
// are merged into it (MergeNamespaces), so contents never move more than once per merge.
//
// The window operator loads the set from keyed state for each record and timer of the key and
// stores it back when it changed (window_operator.h).
//
// Threading: the task thread; a value used for one key at a time.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "brook/operators/windows.h"

namespace brook {

struct MergingWindowEntry {
  TimeWindow window;
  TimeWindow state_window;
  bool operator==(const MergingWindowEntry&) const = default;
};

template <typename Assigner>
class MergingWindowSet {
 public:
  explicit MergingWindowSet(std::vector<MergingWindowEntry> entries = {})
      : entries_(std::move(entries)) {}

  // Adds `new_window`, merging it with the windows it overlaps, and returns the window that now
  // holds it. For every merge that changes windows, calls
  //   merge(result, merged_windows, state_window, merged_state_windows)
  // where merged_windows are the pre-existing windows replaced by `result` (whose contents stay
  // in `state_window`), and merged_state_windows the state windows to fold into it.
  template <typename MergeFn>
  TimeWindow AddWindow(const TimeWindow& new_window, MergeFn&& merge) {
    // Fast path: inside a session already (live windows are disjoint and do not touch).
    for (const MergingWindowEntry& e : entries_) {
      if (e.window.start <= new_window.start && new_window.end <= e.window.end) return e.window;
    }
    std::vector<TimeWindow> windows;
    windows.reserve(entries_.size() + 1);
    for (const MergingWindowEntry& e : entries_) windows.push_back(e.window);
    windows.push_back(new_window);
    std::vector<std::pair<TimeWindow, std::vector<TimeWindow>>> merges;
    Assigner::MergeWindows(windows,
                           [&](const std::vector<TimeWindow>& group, const TimeWindow& result) {
                             merges.emplace_back(result, group);
                           });

    TimeWindow result_window = new_window;
    bool merged_new_window = false;
    for (auto& [result, merged] : merges) {
      if (auto it = std::find(merged.begin(), merged.end(), new_window); it != merged.end()) {
        merged.erase(it);
        merged_new_window = true;
        result_window = result;
      }
      // The new window never had state: the result keeps the state window of a pre-existing one.
      const TimeWindow state_window = Find(merged.front())->state_window;
      std::vector<TimeWindow> merged_state_windows;
      for (const TimeWindow& w : merged) {
        const TimeWindow s = Find(w)->state_window;
        if (s != state_window) merged_state_windows.push_back(s);
        Erase(w);
      }
      entries_.push_back({result, state_window});
      changed_ = true;
      merge(result, merged, state_window, merged_state_windows);
    }
    if (!merged_new_window) {
      entries_.push_back({new_window, new_window});
      changed_ = true;
    }
    return result_window;
  }

  // The state window of a live window, or null.
  const TimeWindow* StateWindow(const TimeWindow& window) const {
    const MergingWindowEntry* e = Find(window);
    return e ? &e->state_window : nullptr;
  }
  // The live window whose namespace (SessionWindowId) is `id`, or null.
  const MergingWindowEntry* FindById(int64_t id) const {
    for (const MergingWindowEntry& e : entries_)
      if (window_internal::SessionWindowId(e.window) == id) return &e;
    return nullptr;
  }
  // Forgets a window (cleaned up, or too late to ever hold anything).
  void Retire(const TimeWindow& window) {
    if (Find(window)) {
      Erase(window);
      changed_ = true;
    }
  }

  bool changed() const { return changed_; }
  const std::vector<MergingWindowEntry>& entries() const { return entries_; }

 private:
  const MergingWindowEntry* Find(const TimeWindow& window) const {
    for (const MergingWindowEntry& e : entries_)
      if (e.window == window) return &e;
    return nullptr;
  }
  void Erase(const TimeWindow& window) {
    std::erase_if(entries_, [&](const MergingWindowEntry& e) { return e.window == window; });
  }

  std::vector<MergingWindowEntry> entries_;
  bool changed_ = false;
};

}  // namespace brook
