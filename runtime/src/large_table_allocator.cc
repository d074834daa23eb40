#include "brook/runtime/state/large_table_allocator.h"

#include <sys/mman.h>

#include <cstdint>

namespace brook::state_internal {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

void* AllocateLargeTable(size_t bytes) {
  const size_t length = RoundUp(bytes, kPage);
  // Mapped with a huge page of slack, then trimmed to a 2 MiB-aligned start.
  void* mapped = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = RoundUp(start, kHugePage);
  if (aligned > start) ::munmap(mapped, aligned - start);
  const uintptr_t end = aligned + length;
  const uintptr_t mapped_end = start + length + kHugePage;
  if (mapped_end > end) ::munmap(reinterpret_cast<void*>(end), mapped_end - end);
  void* p = reinterpret_cast<void*>(aligned);
  // Advice only: without transparent huge pages the block is ordinary memory.
  (void)::madvise(p, length, MADV_HUGEPAGE);
  return p;
}

void FreeLargeTable(void* p, size_t bytes) noexcept { ::munmap(p, RoundUp(bytes, kPage)); }

}  // namespace brook::state_internal
