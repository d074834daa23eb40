// Windows, as Flink's: what a window is (TimeWindow, GlobalWindow), how records are put into
// windows (window assigners), and when a window emits (triggers).
//
//   keyed.window(TumblingEventTimeWindows::of(60'000))          // [0, 1 min), [1 min, 2 min), ...
//   keyed.window(SlidingEventTimeWindows::of(600'000, 10'000))  // 10 min every 10 s
//   keyed.window(EventTimeSessionWindows::withGap(30'000))      // ends after 30 s without records
//   keyed.window(GlobalWindows::create()).trigger(CountTrigger::of(100))
//
// Assigners. Each is a small value type with this contract, used by the window operators
// (window_operator.h, window_slicing_operator.h):
//   using Window;                          // TimeWindow or GlobalWindow
//   using Trigger;                         // the trigger used unless WindowedStream::trigger()
//   static constexpr bool kEventTime;      // windows by event time (else processing time)
//   static constexpr bool kMerging;        // session windows: merge windows that overlap
//   static constexpr bool kSliceable;      // fixed-size aligned windows (tumbling, sliding)
//   void AssignWindows(Timestamp t, F each) const;  // each(const Window&) per window holding t
//   Trigger DefaultTrigger() const;
//   std::string Describe() const;          // e.g. "TumblingEventTimeWindows(60000)"
// non-merging assigners also map a window to and from its int64 state namespace:
//   int64_t Namespace(const Window&) const;  Window WindowFor(int64_t ns) const;
// and merging ones merge: MergeWindows(std::vector<TimeWindow>, callback(merged, result)).
//
// Triggers (built-in ones in window_triggers.h). A trigger decides, per key and window, when the
// window's contents are emitted (FIRE) and/or discarded (PURGE). A user trigger is a class with
//   TriggerResult onElement(const T& element, Timestamp ts, const W& window, Ctx& ctx);
//   TriggerResult onEventTime(Timestamp time, const W& window, Ctx& ctx);
//   TriggerResult onProcessingTime(Timestamp time, const W& window, Ctx& ctx);
//   void clear(const W& window, Ctx& ctx);      // optional: drop timers and state of the window
//   void onMerge(const W& window, Ctx& ctx);    // needed for session windows
// where Ctx is brook::TriggerContext<K, W> (window_trigger_context.h; `auto& ctx` works too):
// timers (registerEventTimeTimer, ...), getCurrentWatermark(), and per-window state
// (getPartitionedState). Timers a trigger registers fire onEventTime/onProcessingTime for the
// same key and window. The trigger object is copied once per subtask.
//
// Threading: assigners and triggers are values used on the task thread of one subtask.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/operators/window_triggers.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/key_groups.h"

namespace brook {

// A window of event or processing time: [start, end), so maxTimestamp() = end - 1 is the last
// timestamp it holds.
struct TimeWindow {
  Timestamp start = 0;
  Timestamp end = 0;

  Timestamp maxTimestamp() const { return end - 1; }
  // Whether the windows overlap or touch ([0, 5) and [5, 10) do, as in Flink: sessions merge).
  bool intersects(const TimeWindow& other) const {
    return start <= other.end && end >= other.start;
  }
  // The smallest window covering both.
  TimeWindow cover(const TimeWindow& other) const {
    return {std::min(start, other.start), std::max(end, other.end)};
  }
  bool operator==(const TimeWindow&) const = default;
  auto operator<=>(const TimeWindow&) const = default;

  // The start of the window of size `size` (windows aligned to `offset`) holding `timestamp`;
  // correct for negative timestamps too.
  static Timestamp getWindowStartWithOffset(Timestamp timestamp, int64_t offset, int64_t size) {
    const int64_t remainder = (timestamp - offset) % size;
    return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
  }
};

inline std::ostream& operator<<(std::ostream& os, const TimeWindow& w) {
  return os << "TimeWindow{start=" << w.start << ", end=" << w.end << "}";
}

// The one window of GlobalWindows: everything of a key, forever. Only a trigger ends it.
struct GlobalWindow {
  Timestamp maxTimestamp() const { return kMaxWatermark; }
  bool operator==(const GlobalWindow&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const GlobalWindow&) {
  return os << "GlobalWindow";
}

// --- assigners -------------------------------------------------------------------------------

namespace window_internal {

// Windows of a fixed size starting every `slide` (tumbling: slide == size), aligned so that
// window starts are `offset` modulo `slide`.
template <bool kIsEventTime>
class FixedWindows {
 public:
  using Window = TimeWindow;
  using Trigger = std::conditional_t<kIsEventTime, EventTimeTrigger, ProcessingTimeTrigger>;
  static constexpr bool kEventTime = kIsEventTime;
  static constexpr bool kMerging = false;
  static constexpr bool kSliceable = true;
  static constexpr bool kDefaultTrigger = true;  // Trigger is the assigner's own

  template <typename F>
  void AssignWindows(Timestamp t, F&& each) const {
    const Timestamp last_start = TimeWindow::getWindowStartWithOffset(t, offset_, slide_);
    for (Timestamp start = last_start; start > t - size_; start -= slide_)
      each(TimeWindow{start, start + size_});
  }
  Trigger DefaultTrigger() const { return {}; }

  // A window is named by its end: windows have one size, so the end says where it starts.
  int64_t Namespace(const TimeWindow& w) const { return w.end; }
  TimeWindow WindowFor(int64_t ns) const { return {ns - size_, ns}; }

  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }

 protected:
  FixedWindows(const char* what, int64_t size, int64_t slide, int64_t offset)
      : size_(size), slide_(slide), offset_(offset) {
    if (size <= 0 || slide <= 0)
      throw std::invalid_argument(std::string(what) + ": size and slide must be positive");
    if (offset <= -slide || offset >= slide)
      throw std::invalid_argument(std::string(what) + ": the offset must be in (-slide, slide)");
  }

 private:
  int64_t size_;
  int64_t slide_;
  int64_t offset_;
};

template <bool kIsEventTime>
class SessionWindows {
 public:
  using Window = TimeWindow;
  using Trigger = std::conditional_t<kIsEventTime, EventTimeTrigger, ProcessingTimeTrigger>;
  static constexpr bool kEventTime = kIsEventTime;
  static constexpr bool kMerging = true;
  static constexpr bool kSliceable = false;
  static constexpr bool kDefaultTrigger = true;

  template <typename F>
  void AssignWindows(Timestamp t, F&& each) const {
    each(TimeWindow{t, t + gap_});
  }
  Trigger DefaultTrigger() const { return {}; }

  // Calls merge(windows, result) for every group of two or more windows that overlap, with
  // the window covering them (Flink's TimeWindow.mergeWindows). Sorts `windows`.
  template <typename F>
  static void MergeWindows(std::vector<TimeWindow>& windows, F&& merge) {
    std::sort(windows.begin(), windows.end());
    std::vector<TimeWindow> group;
    TimeWindow cover{};
    for (const TimeWindow& w : windows) {
      if (!group.empty() && cover.intersects(w)) {
        cover = cover.cover(w);
        if (group.back() != w) group.push_back(w);
        continue;
      }
      if (group.size() > 1) merge(group, cover);
      group.assign(1, w);
      cover = w;
    }
    if (group.size() > 1) merge(group, cover);
  }

  int64_t gap() const { return gap_; }

 protected:
  SessionWindows(const char* what, int64_t gap) : gap_(gap) {
    if (gap <= 0) throw std::invalid_argument(std::string(what) + ": the gap must be positive");
  }

 private:
  int64_t gap_;
};

}  // namespace window_internal

// Windows of `size` ms, one after the other: [offset + k*size, offset + (k+1)*size).
class TumblingEventTimeWindows : public window_internal::FixedWindows<true> {
 public:
  static TumblingEventTimeWindows of(int64_t size_ms, int64_t offset_ms = 0) {
    return TumblingEventTimeWindows(size_ms, offset_ms);
  }
  std::string Describe() const {
    return "TumblingEventTimeWindows(" + std::to_string(size()) + ")";
  }

 private:
  TumblingEventTimeWindows(int64_t size, int64_t offset)
      : FixedWindows("TumblingEventTimeWindows", size, size, offset) {}
};

class TumblingProcessingTimeWindows : public window_internal::FixedWindows<false> {
 public:
  static TumblingProcessingTimeWindows of(int64_t size_ms, int64_t offset_ms = 0) {
    return TumblingProcessingTimeWindows(size_ms, offset_ms);
  }
  std::string Describe() const {
    return "TumblingProcessingTimeWindows(" + std::to_string(size()) + ")";
  }

 private:
  TumblingProcessingTimeWindows(int64_t size, int64_t offset)
      : FixedWindows("TumblingProcessingTimeWindows", size, size, offset) {}
};

// Windows of `size` ms starting every `slide` ms; a record belongs to about size/slide of them.
// With reduce/aggregate and the default trigger, records are aggregated once, into slices of
// gcd(size, slide) ms that the windows share (window_slicing_operator.h).
class SlidingEventTimeWindows : public window_internal::FixedWindows<true> {
 public:
  static SlidingEventTimeWindows of(int64_t size_ms, int64_t slide_ms, int64_t offset_ms = 0) {
    return SlidingEventTimeWindows(size_ms, slide_ms, offset_ms);
  }
  std::string Describe() const {
    return "SlidingEventTimeWindows(" + std::to_string(size()) + ", " + std::to_string(slide()) +
           ")";
  }

 private:
  SlidingEventTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : FixedWindows("SlidingEventTimeWindows", size, slide, offset) {}
};

class SlidingProcessingTimeWindows : public window_internal::FixedWindows<false> {
 public:
  static SlidingProcessingTimeWindows of(int64_t size_ms, int64_t slide_ms, int64_t offset_ms = 0) {
    return SlidingProcessingTimeWindows(size_ms, slide_ms, offset_ms);
  }
  std::string Describe() const {
    return "SlidingProcessingTimeWindows(" + std::to_string(size()) + ", " +
           std::to_string(slide()) + ")";
  }

 private:
  SlidingProcessingTimeWindows(int64_t size, int64_t slide, int64_t offset)
      : FixedWindows("SlidingProcessingTimeWindows", size, slide, offset) {}
};

// Sessions: a record opens [t, t + gap), and windows that overlap or touch merge, so a session
// ends after `gap` ms without records of its key.
class EventTimeSessionWindows : public window_internal::SessionWindows<true> {
 public:
  static EventTimeSessionWindows withGap(int64_t gap_ms) { return EventTimeSessionWindows(gap_ms); }
  std::string Describe() const { return "EventTimeSessionWindows(" + std::to_string(gap()) + ")"; }

 private:
  explicit EventTimeSessionWindows(int64_t gap) : SessionWindows("EventTimeSessionWindows", gap) {}
};

class ProcessingTimeSessionWindows : public window_internal::SessionWindows<false> {
 public:
  static ProcessingTimeSessionWindows withGap(int64_t gap_ms) {
    return ProcessingTimeSessionWindows(gap_ms);
  }
  std::string Describe() const {
    return "ProcessingTimeSessionWindows(" + std::to_string(gap()) + ")";
  }

 private:
  explicit ProcessingTimeSessionWindows(int64_t gap)
      : SessionWindows("ProcessingTimeSessionWindows", gap) {}
};

// One window per key holding all its records; emits only through a trigger set with
// WindowedStream::trigger() (CountTrigger, say). Works in either time: timestamps are not read.
class GlobalWindows {
 public:
  using Window = GlobalWindow;
  using Trigger = NeverTrigger;
  static constexpr bool kEventTime = false;
  static constexpr bool kMerging = false;
  static constexpr bool kSliceable = false;
  static constexpr bool kDefaultTrigger = true;

  static GlobalWindows create() { return {}; }
  template <typename F>
  void AssignWindows(Timestamp, F&& each) const {
    each(GlobalWindow{});
  }
  Trigger DefaultTrigger() const { return {}; }
  int64_t Namespace(const GlobalWindow&) const { return 0; }
  GlobalWindow WindowFor(int64_t) const { return {}; }
  std::string Describe() const { return "GlobalWindows"; }
};

// An assigner with the trigger that WindowedStream::trigger() set in place of its default.
template <typename Assigner, typename CustomTrigger>
class WithTrigger : public Assigner {
 public:
  using Base = Assigner;
  using Trigger = CustomTrigger;
  static constexpr bool kDefaultTrigger = std::is_same_v<CustomTrigger, typename Assigner::Trigger>;

  WithTrigger(Assigner assigner, CustomTrigger trigger)
      : Assigner(std::move(assigner)), trigger_(std::move(trigger)) {}
  Trigger DefaultTrigger() const { return trigger_; }

 private:
  CustomTrigger trigger_;
};

namespace window_internal {
// The assigner without any trigger set on it.
template <typename A>
struct BaseAssigner {
  using type = A;
};
template <typename A, typename T>
struct BaseAssigner<WithTrigger<A, T>> {
  using type = A;
};

// The namespace of a session window (its timers and trigger state): a 64-bit mix of its bounds.
// Sessions of one key are few and disjoint, so two of them sharing an id (probability 2^-64 per
// pair) is not a practical concern; the id is deterministic, so it survives restarts.
inline int64_t SessionWindowId(const TimeWindow& w) {
  return static_cast<int64_t>(
      MixHash(MixHash(static_cast<uint64_t>(w.start)) * 31 + static_cast<uint64_t>(w.end)));
}

// The name of a trigger for operator descriptions.
template <typename T>
std::string TriggerName() {
  if constexpr (requires { T::Name(); }) {
    return T::Name();
  } else {
    return "CustomTrigger";
  }
}
}  // namespace window_internal

}  // namespace brook
