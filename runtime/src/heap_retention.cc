#include "brook/runtime/heap_retention.h"

#include <cstdlib>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace brook {

void RetainFreedHeapMemory() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char* user_tuned : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                   "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
      if (std::getenv(user_tuned) != nullptr) return;
    }
    // Chunks up to 32 MiB (glibc's largest threshold) come from arenas, not mmap, so freeing one
    // does not unmap it.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    // Free memory at the top of a heap is kept up to 1 GiB rather than trimmed.
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // A thread arena's heap that became wholly free is deleted unless the top pad reaches a
    // heap's size (64 MiB): the pad keeps it. It also grows heaps in steps of 64 MiB of address
    // space, which is reserved, not touched.
    mallopt(M_TOP_PAD, 64 << 20);
  });
#endif
}

}  // namespace brook
