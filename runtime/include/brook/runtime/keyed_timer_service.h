// Timers of a keyed operator: event-time and processing-time timers registered for a key and a
// namespace (windows use the window as namespace). A timer is registered at most once per
// (time, key, namespace); event-time timers fire when the watermark reaches their time, in time
// order; processing-time timers fire from the task's ProcessingTimeService. Before a timer's
// callback runs, the operator sets the timer's key as the current key.
//
// Keys must be ordered (operator<), as the timers are kept in ordered sets. Checkpoints share
// the sets copy-on-write (ShareTimers): the task thread copies a set a snapshot still holds only
// when it changes it (registering a timer that is already there changes nothing), so a snapshot
// costs O(1) at the barrier.
// Threading: the task thread only; the sets ShareTimers returns may be read on any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "brook/runtime/ids.h"
#include "brook/runtime/node_pool_allocator.h"
#include "brook/runtime/timer_service.h"

namespace brook {

enum class TimeDomain { kEventTime, kProcessingTime };

template <typename K>
class KeyedTimerService {
 public:
  struct Timer {
    Timestamp time;
    int64_t ns;
    K key;
    bool operator<(const Timer& o) const {
      return std::tie(time, ns, key) < std::tie(o.time, o.ns, o.key);
    }
  };
  using FireFn = std::function<void(const Timer&, TimeDomain)>;
  // Nodes from a pool per set (NodePoolAllocator): millions of timers are restored and copied.
  using TimerSet = std::set<Timer, std::less<Timer>, NodePoolAllocator<Timer>>;
  // Both sets as of ShareTimers(); nobody changes them any more.
  struct SharedTimers {
    std::shared_ptr<const TimerSet> event;
    std::shared_ptr<const TimerSet> processing;
  };

  // `on_fire` runs for every timer that fires; `processing_time` schedules wake-ups.
  KeyedTimerService(ProcessingTimeService* processing_time, FireFn on_fire)
      : processing_time_(processing_time), on_fire_(std::move(on_fire)) {}
  KeyedTimerService(const KeyedTimerService&) = delete;
  KeyedTimerService& operator=(const KeyedTimerService&) = delete;

  void RegisterEventTimeTimer(const K& key, int64_t ns, Timestamp time) {
    Timer timer{time, ns, key};
    if (!event_timers_->contains(timer)) Own(event_timers_).insert(std::move(timer));
  }
  void DeleteEventTimeTimer(const K& key, int64_t ns, Timestamp time) {
    Timer timer{time, ns, key};
    if (event_timers_->contains(timer)) Own(event_timers_).erase(timer);
  }
  void RegisterProcessingTimeTimer(const K& key, int64_t ns, Timestamp time) {
    Timer timer{time, ns, key};
    if (processing_timers_->contains(timer)) return;
    Own(processing_timers_).insert(std::move(timer));
    ScheduleWakeUp();
  }
  void DeleteProcessingTimeTimer(const K& key, int64_t ns, Timestamp time) {
    Timer timer{time, ns, key};
    if (processing_timers_->contains(timer)) Own(processing_timers_).erase(timer);
  }

  // Fires every event-time timer with time <= watermark, in order. Timers that callbacks
  // register for times <= watermark fire in the same call.
  void AdvanceWatermark(Timestamp watermark) {
    watermark_ = watermark;
    while (!event_timers_->empty() && event_timers_->begin()->time <= watermark) {
      TimerSet& timers = Own(event_timers_);
      Timer timer = *timers.begin();
      timers.erase(timers.begin());
      on_fire_(timer, TimeDomain::kEventTime);
    }
  }

  // Checkpoints: calls fn(timer, domain) for every registered timer.
  template <typename Fn>
  void ForEachTimer(Fn&& fn) const {
    for (const Timer& t : *event_timers_) fn(t, TimeDomain::kEventTime);
    for (const Timer& t : *processing_timers_) fn(t, TimeDomain::kProcessingTime);
  }
  // Checkpoints: both sets as they are now, shared; O(1).
  SharedTimers ShareTimers() const { return {event_timers_, processing_timers_}; }
  // Restore: registers a snapshotted timer again (a processing-time timer already due fires at
  // the task's next timer check).
  void RestoreTimer(const Timer& timer, TimeDomain domain) {
    if (domain == TimeDomain::kEventTime) RegisterEventTimeTimer(timer.key, timer.ns, timer.time);
    else RegisterProcessingTimeTimer(timer.key, timer.ns, timer.time);
  }
  // Restore of many timers at once: sorted first, then appended to the sets at their ends,
  // which costs O(n log n) comparisons of a vector sort instead of a random tree descent each.
  // Duplicates (and timers already registered) are registered once.
  void RestoreTimers(std::vector<Timer> event, std::vector<Timer> processing) {
    InsertSorted(event_timers_, std::move(event));
    InsertSorted(processing_timers_, std::move(processing));
    ScheduleWakeUp();
  }

  Timestamp current_watermark() const { return watermark_; }
  size_t num_event_timers() const { return event_timers_->size(); }
  size_t num_processing_timers() const { return processing_timers_->size(); }

 private:
  // Keeps one wake-up registered with the task for the earliest processing-time timer. A
  // wake-up made stale by an earlier one fires later and finds nothing due.
  void ScheduleWakeUp() {
    if (processing_timers_->empty() || processing_time_ == nullptr) return;
    Timestamp earliest = processing_timers_->begin()->time;
    if (scheduled_ && *scheduled_ <= earliest) return;
    scheduled_ = earliest;
    processing_time_->RegisterTimer(earliest, [this](Timestamp now) { FireProcessingTime(now); });
  }

  void FireProcessingTime(Timestamp now) {
    if (scheduled_ && *scheduled_ <= now) scheduled_.reset();
    while (!processing_timers_->empty() && processing_timers_->begin()->time <= now) {
      TimerSet& timers = Own(processing_timers_);
      Timer timer = *timers.begin();
      timers.erase(timers.begin());
      on_fire_(timer, TimeDomain::kProcessingTime);
    }
    ScheduleWakeUp();
  }

  static void InsertSorted(std::shared_ptr<TimerSet>& set, std::vector<Timer> timers) {
    if (timers.empty()) return;
    std::sort(timers.begin(), timers.end());
    TimerSet& own = Own(set);
    // A hint right after the element inserted last is what makes a sorted insertion amortized
    // O(1); insert returns the new (or the equal existing) element.
    auto hint = own.end();
    for (Timer& t : timers) hint = std::next(own.insert(hint, std::move(t)));
  }

  // `set`, the task's own: copied first if a snapshot shares it (see HeapStateTable's
  // MutablePartition for why the fence).
  static TimerSet& Own(std::shared_ptr<TimerSet>& set) {
    if (set.use_count() > 1) {
      set = std::make_shared<TimerSet>(std::as_const(*set));
    } else {
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *set;
  }

  ProcessingTimeService* processing_time_;
  FireFn on_fire_;
  std::shared_ptr<TimerSet> event_timers_ = std::make_shared<TimerSet>();
  std::shared_ptr<TimerSet> processing_timers_ = std::make_shared<TimerSet>();
  Timestamp watermark_ = kMinWatermark;
  std::optional<Timestamp> scheduled_;  // the earliest wake-up registered with the task
};

}  // namespace brook
