// Processing-time timers of one task. Timers fire on the task thread, between batches, in the
// order of their time (ties in registration order); the task parks no longer than the earliest
// deadline. There is no timer thread: the task loop asks for due timers, which costs one clock
// read per batch.
//
// Threading: task thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "brook/runtime/ids.h"

namespace brook {

class ProcessingTimeService {
 public:
  using Callback = std::function<void(Timestamp fire_time)>;

  // Wall-clock milliseconds since the epoch, Flink's processing time.
  static Timestamp Now() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }

  // Runs `callback(time)` on the task thread once Now() >= time.
  void RegisterTimer(Timestamp time, Callback callback) {
    timers_.push(Timer{time, next_seq_++, std::move(callback)});
  }

  std::optional<Timestamp> NextDeadline() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.top().time;
  }

  // Fires every timer due at `now`, including ones the callbacks register for times <= now.
  // Returns how many fired.
  int FireDue(Timestamp now) {
    int fired = 0;
    while (!timers_.empty() && timers_.top().time <= now) {
      Timer timer = timers_.top();
      timers_.pop();
      timer.callback(timer.time);
      ++fired;
    }
    return fired;
  }

  size_t size() const { return timers_.size(); }

 private:
  struct Timer {
    Timestamp time;
    uint64_t seq;
    Callback callback;
    bool operator>(const Timer& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t next_seq_ = 0;
};

}  // namespace brook
