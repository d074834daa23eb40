// NodePoolAllocator: an allocator for node-based containers (the timer sets of
// KeyedTimerService) that carves nodes out of chunks it owns and recycles freed nodes through a
// free list. Chunks grow geometrically up to 2 MiB; chunks that large are mapped in huge pages
// (LargeTableAllocator's blocks).
//
// Why: a keyed operator can hold millions of timers. Allocated one by one with malloc, each
// node costs a call into malloc, and a restore (or a copy-on-write copy for a snapshot) of
// millions of them faults in every fresh 4 KiB page, which under a hypervisor costs more than
// the copy itself. From pool chunks, a node is a pointer bump and the pages are huge.
//
// Each container has its own pool: copies of an allocator share it (a container's rebound
// allocators must), and a copied container gets a new one (select_on_container_copy_construction),
// so that the snapshot side of a copy-on-write pair never shares a pool with the task's side.
// The pool's memory goes back when its container is destroyed; freed nodes are only reused.
//
// Threading: a pool is used by one thread at a time (its container's).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace brook {
namespace internal {

// Nodes of one size, carved out of chunks.
class NodePool {
 public:
  NodePool() = default;
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;
  ~NodePool();

  // A block of `size` bytes aligned to `align` (<= alignof(std::max_align_t)). The first
  // allocation fixes the pool's node size; blocks of another size come from operator new.
  void* Allocate(size_t size, size_t align);
  void Free(void* p, size_t size, size_t align) noexcept;

 private:
  struct FreeNode {
    FreeNode* next;
  };
  struct Chunk {
    std::byte* data;
    size_t bytes;
  };
  void* Grow();

  size_t node_size_ = 0;  // 0: not fixed yet
  FreeNode* free_ = nullptr;
  std::byte* next_ = nullptr;
  std::byte* end_ = nullptr;
  std::vector<Chunk> chunks_;
};

}  // namespace internal

template <typename T>
class NodePoolAllocator {
 public:
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  NodePoolAllocator() : pool_(std::make_shared<internal::NodePool>()) {}
  template <typename U>
  NodePoolAllocator(const NodePoolAllocator<U>& other)  // NOLINT: rebinding converts implicitly
      : pool_(other.pool_) {}

  // A copied container gets a pool of its own.
  NodePoolAllocator select_on_container_copy_construction() const { return NodePoolAllocator(); }

  T* allocate(size_t n) {
    if (n == 1) return static_cast<T*>(pool_->Allocate(sizeof(T), alignof(T)));
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
  }
  void deallocate(T* p, size_t n) noexcept {
    if (n == 1) {
      pool_->Free(p, sizeof(T), alignof(T));
    } else {
      ::operator delete(p, n * sizeof(T), std::align_val_t(alignof(T)));
    }
  }

  template <typename U>
  bool operator==(const NodePoolAllocator<U>& other) const {
    return pool_ == other.pool_;
  }

 private:
  template <typename U>
  friend class NodePoolAllocator;
  // Shared by the copies of one container's allocator (the container rebinds it to its node
  // type and keeps copies), which is what an allocator's copies must do.
  std::shared_ptr<internal::NodePool> pool_;
};

}  // namespace brook
