// Triggers: when a window emits (FIRE) and/or discards its contents (PURGE), per key and window.
// The built-in ones, as Flink's: EventTimeTrigger and ProcessingTimeTrigger (the defaults of
// event- and processing-time assigners), CountTrigger, PurgingTrigger and NeverTrigger (the
// default of GlobalWindows). windows.h says what a trigger must provide; each method takes the
// window and a TriggerContext (window_trigger_context.h).
//
// Threading: values used on the task thread of one subtask (copied once per subtask).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <utility>

#include "brook/runtime/ids.h"
#include "brook/runtime/state/state_descriptor.h"

namespace brook {

// What a trigger decides, as Flink's TriggerResult.
enum class TriggerResult : uint8_t {
  CONTINUE,        // nothing happens
  FIRE,            // emit the window's result; keep its contents
  PURGE,           // discard the contents without emitting
  FIRE_AND_PURGE,  // emit, then discard
};
inline bool IsFire(TriggerResult r) {
  return r == TriggerResult::FIRE || r == TriggerResult::FIRE_AND_PURGE;
}
inline bool IsPurge(TriggerResult r) {
  return r == TriggerResult::PURGE || r == TriggerResult::FIRE_AND_PURGE;
}

// --- triggers --------------------------------------------------------------------------------

// Fires once the watermark passes the window's end, and again for every element that arrives
// later but within the allowed lateness (the window is then re-emitted with it). The default of
// event-time assigners.
struct EventTimeTrigger {
  static EventTimeTrigger create() { return {}; }

  template <typename T, typename W, typename Ctx>
  TriggerResult onElement(const T&, Timestamp, const W& window, Ctx& ctx) const {
    if (window.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult::FIRE;
    // One timer per window: registered by the element that creates the window, not by every one.
    if (ctx.windowIsNew()) ctx.registerEventTimeTimer(window.maxTimestamp());
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onEventTime(Timestamp time, const W& window, Ctx&) const {
    return time == window.maxTimestamp() ? TriggerResult::FIRE : TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onProcessingTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  void clear(const W& window, Ctx& ctx) const {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
  template <typename W, typename Ctx>
  void onMerge(const W& window, Ctx& ctx) const {
    if (window.maxTimestamp() > ctx.getCurrentWatermark())
      ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  static const char* Name() { return "EventTimeTrigger"; }
};

// Fires when processing time passes the window's end. The default of processing-time assigners.
struct ProcessingTimeTrigger {
  static ProcessingTimeTrigger create() { return {}; }

  template <typename T, typename W, typename Ctx>
  TriggerResult onElement(const T&, Timestamp, const W& window, Ctx& ctx) const {
    if (ctx.windowIsNew()) ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onEventTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onProcessingTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::FIRE;
  }
  template <typename W, typename Ctx>
  void clear(const W& window, Ctx& ctx) const {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }
  template <typename W, typename Ctx>
  void onMerge(const W& window, Ctx& ctx) const {
    if (window.maxTimestamp() > ctx.getCurrentProcessingTime())
      ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }
  static const char* Name() { return "ProcessingTimeTrigger"; }
};

// Fires every `n` elements of a window (keeping its contents: wrap it in PurgingTrigger for
// windows of n elements each, as countWindow does). Counts live in per-window keyed state.
struct CountTrigger {
  struct Sum {
    int64_t operator()(const int64_t& a, const int64_t& b) const { return a + b; }
  };
  using CountState = ReducingStateDescriptor<int64_t, Sum>;

  static CountTrigger of(int64_t n) {
    if (n <= 0) throw std::invalid_argument("CountTrigger::of: the count must be positive");
    return CountTrigger{n};
  }

  template <typename T, typename W, typename Ctx>
  TriggerResult onElement(const T&, Timestamp, const W&, Ctx& ctx) const {
    auto& count = ctx.getPartitionedState(Descriptor());
    count.add(1);
    if (*count.get() < max_count) return TriggerResult::CONTINUE;
    count.clear();
    return TriggerResult::FIRE;
  }
  template <typename W, typename Ctx>
  TriggerResult onEventTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onProcessingTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  void clear(const W&, Ctx& ctx) const {
    ctx.getPartitionedState(Descriptor()).clear();
  }
  template <typename W, typename Ctx>
  void onMerge(const W&, Ctx& ctx) const {
    ctx.mergePartitionedState(Descriptor());
  }
  static const char* Name() { return "CountTrigger"; }

  static const CountState& Descriptor() {
    static const CountState descriptor{"count-trigger", Sum{}};
    return descriptor;
  }

  int64_t max_count = 1;
};

// Turns every FIRE of `Inner` into FIRE_AND_PURGE.
template <typename Inner>
struct PurgingTrigger {
  static PurgingTrigger of(Inner inner) { return PurgingTrigger{std::move(inner)}; }

  template <typename T, typename W, typename Ctx>
  TriggerResult onElement(const T& element, Timestamp ts, const W& window, Ctx& ctx) {
    return Purging(inner.onElement(element, ts, window, ctx));
  }
  template <typename W, typename Ctx>
  TriggerResult onEventTime(Timestamp time, const W& window, Ctx& ctx) {
    return Purging(inner.onEventTime(time, window, ctx));
  }
  template <typename W, typename Ctx>
  TriggerResult onProcessingTime(Timestamp time, const W& window, Ctx& ctx) {
    return Purging(inner.onProcessingTime(time, window, ctx));
  }
  template <typename W, typename Ctx>
  void clear(const W& window, Ctx& ctx) {
    if constexpr (requires { inner.clear(window, ctx); }) inner.clear(window, ctx);
  }
  template <typename W, typename Ctx>
  requires requires(Inner& i, const W& w, Ctx& c) { i.onMerge(w, c); }
  void onMerge(const W& window, Ctx& ctx) { inner.onMerge(window, ctx); }
  static const char* Name() { return "PurgingTrigger"; }

  Inner inner;

 private:
  static TriggerResult Purging(TriggerResult r) {
    return IsFire(r) ? TriggerResult::FIRE_AND_PURGE : r;
  }
};

// Never fires: the default of GlobalWindows, which need a trigger of their own.
struct NeverTrigger {
  template <typename T, typename W, typename Ctx>
  TriggerResult onElement(const T&, Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onEventTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  TriggerResult onProcessingTime(Timestamp, const W&, Ctx&) const {
    return TriggerResult::CONTINUE;
  }
  template <typename W, typename Ctx>
  void onMerge(const W&, Ctx&) const {}
  static const char* Name() { return "NeverTrigger"; }
};

}  // namespace brook
