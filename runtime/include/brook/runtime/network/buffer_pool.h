// BufferPool recycles the byte buffers of the network layer: a producer fills one, the
// connection writes it and hands it back; a connection reads a frame into one, the consumer
// drains it and hands it back. A running channel therefore allocates no buffer storage after
// warm-up. The pool keeps at most `max_pooled` buffers and drops any that grew far beyond
// `buffer_bytes` (one odd giant record must not pin memory).
//
// Threading: any thread; one short critical section per call.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace brook::network {

class BufferPool {
 public:
  BufferPool(size_t buffer_bytes, size_t max_pooled)
      : buffer_bytes_(buffer_bytes), max_pooled_(max_pooled) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty buffer with capacity for at least buffer_bytes.
  std::vector<std::byte> Acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        std::vector<std::byte> buffer = std::move(free_.back());
        free_.pop_back();
        return buffer;
      }
    }
    std::vector<std::byte> buffer;
    // Room for the record that crosses the limit, so a full buffer rarely reallocates.
    buffer.reserve(buffer_bytes_ + buffer_bytes_ / 4);
    return buffer;
  }

  void Release(std::vector<std::byte>&& buffer) {
    if (buffer.capacity() < buffer_bytes_ || buffer.capacity() > 4 * buffer_bytes_) return;
    buffer.clear();
    std::lock_guard lock(mutex_);
    if (free_.size() < max_pooled_) free_.push_back(std::move(buffer));
  }

 private:
  const size_t buffer_bytes_;
  const size_t max_pooled_;
  std::mutex mutex_;
  std::vector<std::vector<std::byte>> free_;  // guarded by mutex_
};

}  // namespace brook::network
