#include "brook/runtime/state/large_table_allocator.h"

#include <sys/mman.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace brook::state_internal {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

void* Map(size_t length) {
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

// Freed blocks kept for reuse, by length. Copy-on-write snapshots free a partition's old table
// as the next snapshot's copy needs one of the same size: reusing it spares the kernel's
// faulting in and zeroing of fresh memory, which is most of what a copy costs. The cache never
// holds more than the blocks in use (so memory stays within twice the tables, the most that
// copy-on-write needs anyway); blocks beyond that are unmapped.
class BlockCache {
 public:
  void* Allocate(size_t length) {
    {
      std::lock_guard lock(mutex_);
      live_bytes_ += length;
      if (auto it = free_.find(length); it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_bytes_ -= length;
        return p;
      }
    }
    try {
      return Map(length);
    } catch (...) {
      std::lock_guard lock(mutex_);
      live_bytes_ -= length;
      throw;
    }
  }

  void Free(void* p, size_t length) noexcept {
    std::vector<std::pair<void*, size_t>> unmap;
    {
      std::lock_guard lock(mutex_);
      live_bytes_ -= length;
      if (cached_bytes_ + length <= live_bytes_) {
        try {
          free_.emplace(length, p);
          cached_bytes_ += length;
          p = nullptr;
        } catch (...) {
          // Not cached: unmapped below.
        }
      }
      // The tables shrank (a job ended): give back what the cache holds beyond them.
      for (auto it = free_.begin(); it != free_.end() && cached_bytes_ > live_bytes_;) {
        unmap.emplace_back(it->second, it->first);
        cached_bytes_ -= it->first;
        it = free_.erase(it);
      }
    }
    if (p != nullptr) ::munmap(p, length);
    for (const auto& [block, bytes] : unmap) ::munmap(block, bytes);
  }

 private:
  std::mutex mutex_;
  std::unordered_multimap<size_t, void*> free_;  // guarded by mutex_
  size_t cached_bytes_ = 0;                      // guarded by mutex_
  size_t live_bytes_ = 0;                        // guarded by mutex_
};

BlockCache& Cache() {
  static auto* cache = new BlockCache();  // never destroyed: blocks may be freed at exit
  return *cache;
}
}  // namespace

void* AllocateLargeTable(size_t bytes) { return Cache().Allocate(RoundUp(bytes, kPage)); }

void FreeLargeTable(void* p, size_t bytes) noexcept { Cache().Free(p, RoundUp(bytes, kPage)); }

}  // namespace brook::state_internal
