// The monotonic clock in nanoseconds, for durations the runtime measures (busy, backpressure,
// alignment, buffer timeouts). Not wall-clock time: see ProcessingTimeService::Now for that.
#pragma once

#include <chrono>
#include <cstdint>

namespace brook {

inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Wall-clock nanoseconds since the epoch: the time latency markers carry from a source to a
// sink, comparable across processes and (with synchronized clocks) machines, as in Flink.
inline int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace brook
