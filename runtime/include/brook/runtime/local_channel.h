// A bounded channel between one producer subtask and one consumer subtask in the same process.
// It carries typed record batches (never serialized) and in-band stream events, in order.
//
// Flow control: at most `capacity` elements are queued; a producer sending into a full
// channel blocks (its backpressure time) until the consumer takes one. Batch storage circulates:
// the consumer recycles drained batches and the producer reuses them, so a running job
// allocates no batches after warm-up and its memory is bounded by the channel capacities.
//
//   producer task                      consumer task
//   AcquireBatch() <---- free pool <---- Recycle()
//   Send() ------------> queue --------> Poll()
//
// Threading: one producer thread (AcquireBatch, Send), one consumer thread (Poll, Recycle);
// Cancel() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <variant>
#include <vector>

#include "brook/runtime/metrics.h"
#include "brook/runtime/stream_element.h"
#include "brook/runtime/task_cancelled.h"
#include "brook/runtime/task_notifier.h"

namespace brook {

template <typename T>
using ChannelElement = std::variant<RecordBatch<T>, StreamEvent>;

// Type-erased face of a channel for the code that wires and cancels tasks.
class ChannelBase {
 public:
  virtual ~ChannelBase() = default;
  // Wakes a blocked producer with TaskCancelled and makes further sends throw it. A local
  // channel's consumer is woken too, and its polls throw TaskCancelled: a task that fails
  // cancels its channels, so that its neighbours in the process end rather than wait for it.
  virtual void Cancel() = 0;
  // Elements (local) or buffers (network) waiting in the channel, out of how many it holds.
  virtual size_t queued() const = 0;
  virtual size_t capacity() const = 0;
  // The bytes this end put on or took off the network; nullptr for a local channel, which
  // hands batches over without serializing them.
  virtual std::shared_ptr<const Counter> network_bytes() const { return nullptr; }
  // The consumer task's notifier, poked when the channel goes from empty to non-empty.
  virtual void SetConsumerNotifier(TaskNotifier* notifier) = 0;
};

// Sending side, implemented by local channels and (later) network channels.
template <typename T>
class ChannelSender {
 public:
  virtual ~ChannelSender() = default;
  // An empty batch with reserved storage, reused when possible.
  virtual RecordBatch<T> AcquireBatch() = 0;
  // Blocks while the channel is full; adds the blocked time to *backpressure_ns.
  // Throws TaskCancelled if the channel is cancelled.
  virtual void Send(ChannelElement<T>&& element, int64_t* backpressure_ns) = 0;
  // Hands on what the channel itself still buffers (a network channel's partly filled buffer),
  // without blocking. The writer calls it when the task flushes; local channels buffer nothing.
  virtual void Flush() {}
};

// Receiving side.
template <typename T>
class ChannelReceiver {
 public:
  virtual ~ChannelReceiver() = default;
  // Takes the next element if there is one; never blocks.
  virtual bool Poll(ChannelElement<T>& out) = 0;
  // Returns a drained batch's storage to the producer.
  virtual void Recycle(RecordBatch<T>&& batch) = 0;
};

template <typename T>
class LocalChannel final : public ChannelBase, public ChannelSender<T>, public ChannelReceiver<T> {
 public:
  explicit LocalChannel(size_t capacity, size_t batch_size = kDefaultBatchSize)
      : capacity_(capacity), batch_size_(batch_size) {}

  RecordBatch<T> AcquireBatch() override {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        RecordBatch<T> batch = std::move(free_.back());
        free_.pop_back();
        return batch;
      }
    }
    RecordBatch<T> batch;
    batch.records.reserve(batch_size_);
    return batch;
  }

  void Send(ChannelElement<T>&& element, int64_t* backpressure_ns) override {
    bool was_empty;
    {
      std::unique_lock lock(mutex_);
      if (queue_.size() >= capacity_ && !cancelled_) {
        auto start = std::chrono::steady_clock::now();
        producer_waiting_ = true;
        not_full_.wait(lock, [&] { return queue_.size() < capacity_ || cancelled_; });
        producer_waiting_ = false;
        if (backpressure_ns) {
          *backpressure_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count();
        }
      }
      if (cancelled_) throw TaskCancelled();
      was_empty = queue_.empty();
      queue_.push_back(std::move(element));
    }
    if (was_empty && consumer_notifier_) consumer_notifier_->Notify();
  }

  bool Poll(ChannelElement<T>& out) override {
    bool wake_producer;
    {
      std::lock_guard lock(mutex_);
      // Cancelled: the producer's task failed or the job is being cancelled; either way nothing
      // more is coming that anyone needs.
      if (cancelled_) throw TaskCancelled();
      if (queue_.empty()) return false;
      out = std::move(queue_.front());
      queue_.pop_front();
      // Wake a blocked producer only once half the queue has drained: it then sends several
      // elements per wake-up instead of one (fewer context switches).
      wake_producer = producer_waiting_ && queue_.size() <= capacity_ / 2;
    }
    if (wake_producer) not_full_.notify_one();
    return true;
  }

  void Recycle(RecordBatch<T>&& batch) override {
    batch.clear();
    std::lock_guard lock(mutex_);
    // The pool never needs more batches than can be in flight.
    if (free_.size() < capacity_ + 2) free_.push_back(std::move(batch));
  }

  void Cancel() override {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    not_full_.notify_all();
    if (consumer_notifier_) consumer_notifier_->Notify();
  }

  size_t queued() const override {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  size_t capacity() const override { return capacity_; }
  void SetConsumerNotifier(TaskNotifier* notifier) override { consumer_notifier_ = notifier; }

 private:
  const size_t capacity_;
  const size_t batch_size_;
  TaskNotifier* consumer_notifier_ = nullptr;  // set before the tasks start

  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  std::deque<ChannelElement<T>> queue_;  // guarded by mutex_
  std::vector<RecordBatch<T>> free_;     // guarded by mutex_
  bool producer_waiting_ = false;        // guarded by mutex_
  bool cancelled_ = false;               // guarded by mutex_
};

}  // namespace brook
