// What a process reports about itself: resident memory and CPU time (for heartbeats, the
// REST API's task manager view and Prometheus).
#pragma once

#include <cstdint>

namespace brook {

struct ProcessStats {
  uint64_t rss_bytes = 0;
  double cpu_seconds = 0;       // user + system, all threads
  int cpu_cores = 0;            // online cores
  uint64_t physical_memory = 0;  // bytes
};

ProcessStats ReadProcessStats();

}  // namespace brook
