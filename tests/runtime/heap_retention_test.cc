#include "brook/runtime/heap_retention.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace brook {
namespace {

// Page faults of the calling thread so far.
long ThreadPageFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// What a snapshot thread does with LMDB's staging memory, batch after batch: big blocks are
// allocated, written and freed. Returns the page faults of the third batch, and of the first in
// *first (on a new thread, so in an arena of its own; the arena settles in the second).
long ThirdBatchFaults(long* first) {
  long third = 0;
  std::thread([&] {
    constexpr size_t kBlock = size_t{12} << 20;  // a key group's value at 1 GiB of state
    for (int round = 0; round < 3; ++round) {
      const long before = ThreadPageFaults();
      std::vector<void*> blocks;
      for (int i = 0; i < 4; ++i) {
        blocks.push_back(std::malloc(kBlock));
        ASSERT_NE(blocks.back(), nullptr);
        std::memset(blocks.back(), round + 1, kBlock);
      }
      for (void* block : blocks) std::free(block);
      const long faults = ThreadPageFaults() - before;
      if (round == 0) *first = faults;
      if (round == 2) third = faults;
    }
  }).join();
  return third;
}

TEST(RetainFreedHeapMemory, ABatchOfBigBlocksReusesTheMemoryOfTheLastOne) {
  for (const char* tuned :
       {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(tuned) != nullptr) GTEST_SKIP() << tuned << " is set: malloc is left alone";
  }
  RetainFreedHeapMemory();
  RetainFreedHeapMemory();  // idempotent
  long first = 0;
  const long third = ThirdBatchFaults(&first);
  // 48 MiB written: thousands of faults the first time (fewer with huge pages), next to none
  // once the memory is kept. With glibc's defaults every batch faults as much as the first.
  EXPECT_GT(first, 20);
  EXPECT_LT(third, first / 10) << "first batch " << first << " faults";
}

}  // namespace
}  // namespace brook
