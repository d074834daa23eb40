#include "brook/runtime/node_pool_allocator.h"

#include <algorithm>

#include "brook/runtime/state/large_table_allocator.h"

namespace brook::internal {
namespace {
constexpr size_t kFirstChunkBytes = size_t{4} << 10;
constexpr size_t kAlign = alignof(std::max_align_t);
}  // namespace

NodePool::~NodePool() {
  for (const Chunk& c : chunks_) {
    if (c.bytes >= state_internal::kLargeTableBytes) {
      state_internal::FreeLargeTable(c.data, c.bytes);
    } else {
      ::operator delete(c.data, c.bytes, std::align_val_t(kAlign));
    }
  }
}

void* NodePool::Allocate(size_t size, size_t align) {
  if (node_size_ == 0) node_size_ = (std::max(size, sizeof(FreeNode)) + kAlign - 1) / kAlign * kAlign;
  if (size > node_size_ || align > kAlign || node_size_ - size >= kAlign)
    return ::operator new(size, std::align_val_t(align));  // not this pool's node size
  if (free_ != nullptr) {
    FreeNode* node = free_;
    free_ = node->next;
    return node;
  }
  if (next_ == end_) return Grow();
  void* p = next_;
  next_ += node_size_;
  return p;
}

void NodePool::Free(void* p, size_t size, size_t align) noexcept {
  if (size > node_size_ || align > kAlign || node_size_ - size >= kAlign) {
    ::operator delete(p, size, std::align_val_t(align));
    return;
  }
  auto* node = static_cast<FreeNode*>(p);
  node->next = free_;
  free_ = node;
}

void* NodePool::Grow() {
  const size_t bytes =
      chunks_.empty() ? kFirstChunkBytes
                      : std::min(chunks_.back().bytes * 2, state_internal::kLargeTableBytes);
  chunks_.reserve(chunks_.size() + 1);  // so that recording the chunk cannot throw
  std::byte* data = bytes >= state_internal::kLargeTableBytes
                        ? static_cast<std::byte*>(state_internal::AllocateLargeTable(bytes))
                        : static_cast<std::byte*>(::operator new(bytes, std::align_val_t(kAlign)));
  chunks_.push_back({data, bytes});
  next_ = data + node_size_;
  end_ = data + bytes / node_size_ * node_size_;
  return data;
}

}  // namespace brook::internal
