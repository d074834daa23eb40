// LargeTableAllocator: the allocator of the heap backend's hash tables. Small blocks come from
// operator new; blocks of kLargeTableBytes or more are mapped from the kernel on their own,
// aligned to 2 MiB and marked for transparent huge pages (madvise MADV_HUGEPAGE), and unmapped
// when freed, or kept for reuse by a later block of the same size: copy-on-write snapshots free
// a table's old copy as the next snapshot's copy needs one alike, and reused memory is neither
// faulted in nor zeroed again. Freed blocks kept never exceed the blocks in use.
//
// Why: a big keyed state is a few hash tables of many MiB each, read and written at random.
// With 4 KiB pages every first touch of a page is a page fault (expensive under a hypervisor)
// and most random accesses miss the TLB; huge pages cut both by 512x, which is what restoring
// a table (all of it new memory) and copying one for a snapshot (copy-on-write) spend most of
// their time on.
//
// Where the kernel does not do transparent huge pages the blocks are ordinary mapped memory.
// Threading: any thread (the cache of freed blocks is locked).
#pragma once

#include <cstddef>
#include <new>

namespace brook {
namespace state_internal {

inline constexpr size_t kLargeTableBytes = size_t{2} << 20;

// A block of `bytes` (>= kLargeTableBytes) as described above. Throws std::bad_alloc.
void* AllocateLargeTable(size_t bytes);
// REQUIRES: `p` and `bytes` as allocated.
void FreeLargeTable(void* p, size_t bytes) noexcept;

}  // namespace state_internal

template <typename T>
class LargeTableAllocator {
 public:
  using value_type = T;

  LargeTableAllocator() = default;
  template <typename U>
  LargeTableAllocator(const LargeTableAllocator<U>&) {}  // NOLINT: rebinding converts implicitly

  T* allocate(size_t n) {
    if (n > size_t(-1) / sizeof(T)) throw std::bad_alloc();
    const size_t bytes = n * sizeof(T);
    if (bytes >= state_internal::kLargeTableBytes)
      return static_cast<T*>(state_internal::AllocateLargeTable(bytes));
    return static_cast<T*>(::operator new(bytes, std::align_val_t(alignof(T))));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= state_internal::kLargeTableBytes) {
      state_internal::FreeLargeTable(p, bytes);
    } else {
      ::operator delete(p, bytes, std::align_val_t(alignof(T)));
    }
  }

  template <typename U>
  bool operator==(const LargeTableAllocator<U>&) const {
    return true;
  }
};

}  // namespace brook
