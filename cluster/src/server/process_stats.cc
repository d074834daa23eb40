#include "brook/cluster/server/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace brook {

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  const long page = sysconf(_SC_PAGESIZE);
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) stats.rss_bytes = uint64_t(resident) * page;
    std::fclose(f);
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0)
    stats.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                        double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  stats.cpu_cores = int(sysconf(_SC_NPROCESSORS_ONLN));
  stats.physical_memory = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(page);
  return stats;
}

}  // namespace brook
