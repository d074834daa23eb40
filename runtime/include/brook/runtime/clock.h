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

}  // namespace brook
