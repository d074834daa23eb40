// The type-independent halves of a network channel, shared by every record type. The typed
// NetworkChannelSender<T> / NetworkChannelReceiver<T> (network_channel.h) only encode and decode
// elements; everything about buffers, credits, blocking and failure lives here.
//
//   producer task                                          consumer task
//   NetworkChannelSender<T>                                NetworkChannelReceiver<T>
//     | serialize into buffer                                ^ decode elements of a buffer
//   OutboundChannel --DataBuffer (needs a credit)--> InboundChannel (queue <= credits)
//                   <--Credit (one per drained buffer)--
//
// Credit-based flow control (as in Flink): the consumer grants `initial_credits` when it
// requests the channel, one credit per buffer it can hold. The producer spends one credit per
// buffer and blocks in SendBuffer() with none left (its backpressure time); the consumer returns
// the credits of buffers it has drained in groups of half its credits (one frame per group, not
// per buffer; the producer still has the other half to send meanwhile). So a slow consumer
// stops only its own producers; other channels on the same connection keep flowing.
//
// Life cycle: made by NetworkEnvironment::OpenOutbound / OpenInbound, registered there until
// destroyed. An endpoint destroyed before end-of-partition tells its peer (CloseChannel).
// Failure (the connection or the environment went away) makes the producer's next send throw
// std::runtime_error and the consumer's Poll throw once the buffers it has are drained.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "brook/runtime/network/channel_id.h"
#include "brook/runtime/network/frame.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/network/wire_internal.h"
#include "brook/runtime/task_notifier.h"

namespace brook::network {

class BufferPool;
class OutboundChannel;
class InboundChannel;

// What an endpoint needs from its environment (implemented inside network_environment.cc).
// Threading: any thread.
class ChannelHost {
 public:
  virtual ~ChannelHost() = default;
  virtual void Unregister(OutboundChannel* channel) = 0;
  virtual void Unregister(InboundChannel* channel) = 0;
  // Makes sure the buffer-timeout timer fires by `deadline_ns` (steady clock).
  virtual void WatchBufferTimeout(int64_t deadline_ns) = 0;
  virtual BufferPool& buffers() = 0;
};

struct ChannelSettings {
  size_t buffer_bytes = 32 * 1024;
  size_t max_payload_bytes = 1 << 20;
  int64_t buffer_timeout_ns = 100'000'000;
  uint32_t initial_credits = 32;  // see NetworkOptions::initial_credits
};

// Producer side. Threading: LockBuffer/SendBuffer/EndWrite/Flush/MarkFinished on the producer
// thread; Cancel and the accessors on any thread; the private hooks on the environment's threads.
class OutboundChannel {
 public:
  OutboundChannel(std::shared_ptr<ChannelHost> host, const ChannelId& id,
                  const ChannelSettings& settings);
  ~OutboundChannel();
  OutboundChannel(const OutboundChannel&) = delete;
  OutboundChannel& operator=(const OutboundChannel&) = delete;

  const ChannelId& id() const { return id_; }
  size_t buffer_bytes() const { return settings_.buffer_bytes; }

  // Exclusive access to the buffer being filled, for one Send. REQUIRES for buffer(),
  // SendBuffer() and EndWrite(): the lock from LockBuffer(), held.
  std::unique_lock<std::mutex> LockBuffer() { return std::unique_lock(buffer_mutex_); }
  std::vector<std::byte>& buffer(std::unique_lock<std::mutex>&) { return buffer_; }
  // Sends the buffer (if not empty) against a credit, waiting for one if there is none (the wait
  // is added to *backpressure_ns), and starts a new empty one. Throws TaskCancelled after
  // Cancel() or when the consumer released the channel, std::runtime_error on failure or for a
  // buffer beyond the frame limit. `more_follows`: the caller is about to fill another buffer in
  // this write, so this one may wait for it (until EndWrite at the latest) and both go out in
  // one system call.
  void SendBuffer(std::unique_lock<std::mutex>& lock, int64_t* backpressure_ns,
                  bool more_follows = false);
  // Ends a write: sends the buffers held back for it, unlocks, and arms the buffer timeout if
  // the buffer holds data.
  void EndWrite(std::unique_lock<std::mutex>& lock);
  // Sends the buffer now if a credit is there, else as soon as one arrives. Never blocks.
  void Flush();
  // End-of-partition went out: a later connection loss or release is no failure.
  void MarkFinished();

  void Cancel();
  // Buffers sent and not yet credited back, and the consumer's credits (0 until it asked).
  size_t in_flight() const;
  size_t capacity() const;
  // Bytes of the data frames sent so far (length prefix, header and payload). Shared so that
  // a task's metrics may sum it after the channel is gone.
  std::shared_ptr<const Counter> bytes_sent() const { return bytes_sent_; }

 private:
  friend class EnvironmentCore;
  // Environment hooks. Bind: the consumer asked for the channel on `sink`; false if it already had.
  bool Bind(std::shared_ptr<FrameSink> sink, uint32_t credits);
  void AddCredits(uint32_t credits);
  void Release(const std::string& reason);
  void Fail(const std::string& reason);
  bool BoundTo(const FrameSink* sink) const;
  // Buffer timeout: flushes a buffer older than the timeout, else returns when it will be due.
  std::optional<int64_t> CheckTimeout(int64_t now_ns);

  // Sends a flushed buffer if a credit is there. `wait_for_lock`: the producer may block on the
  // buffer lock, the environment's threads only try it (the producer then sends it itself).
  void SendPendingFlush(bool wait_for_lock);
  // Encodes the buffer and sends it after the held frames, or holds it too (`hold`). REQUIRES:
  // buffer lock held and a credit taken.
  void Transmit(const std::shared_ptr<FrameSink>& sink, bool hold = false);
  // Sends the frames held back in this write. REQUIRES: buffer lock held.
  void SendHeld();
  void ThrowIfStoppedLocked() const;

  const std::shared_ptr<ChannelHost> host_;  // first: outlives the connection below
  const ChannelId id_;
  const ChannelSettings settings_;
  const std::shared_ptr<Counter> bytes_sent_ = std::make_shared<Counter>();

  std::mutex buffer_mutex_;
  std::vector<std::byte> buffer_;      // guarded by buffer_mutex_
  uint64_t next_sequence_ = 0;         // guarded by buffer_mutex_
  // Full buffers of the write in progress, encoded and credited, waiting to go out together.
  // Empty whenever the buffer lock is free.
  std::vector<OutgoingFrame> held_;    // guarded by buffer_mutex_
  std::shared_ptr<FrameSink> held_sink_;  // guarded by buffer_mutex_: where held_ goes
  // When the buffer got its first bytes (steady ns), 0 while empty. Written under buffer_mutex_,
  // read by the timeout scan without it.
  std::atomic<int64_t> buffer_started_ns_{0};

  mutable std::mutex state_mutex_;
  std::condition_variable credit_available_;
  std::shared_ptr<FrameSink> sink_;  // guarded by state_mutex_; set once the consumer asks
  uint32_t credits_ = 0;             // guarded by state_mutex_
  uint32_t granted_ = 0;             // guarded by state_mutex_: initial credits
  bool flush_pending_ = false;       // guarded by state_mutex_
  bool cancelled_ = false;           // guarded by state_mutex_
  bool released_ = false;            // guarded by state_mutex_
  bool finished_ = false;            // guarded by state_mutex_
  std::string failure_;              // guarded by state_mutex_
};

// A received buffer: the frame storage and the payload inside it.
struct ReceivedBuffer {
  std::vector<std::byte> storage;
  std::span<const std::byte> payload;
};

// Consumer side. Threading: Take/Consumed/MarkEndOfPartition on the consumer thread; Cancel,
// SetConsumerNotifier and accessors on any thread; private hooks on the environment's threads.
class InboundChannel {
 public:
  InboundChannel(std::shared_ptr<ChannelHost> host, const ChannelId& id,
                 const ChannelSettings& settings);
  ~InboundChannel();
  InboundChannel(const InboundChannel&) = delete;
  InboundChannel& operator=(const InboundChannel&) = delete;

  const ChannelId& id() const { return id_; }
  // The next received buffer, if any. Throws std::runtime_error if the channel failed and
  // nothing received is left (received data is always handed out first).
  bool Take(ReceivedBuffer& out);
  // The consumer has taken everything out of `buffer`: recycles it and returns the credit.
  void Consumed(ReceivedBuffer&& buffer);
  void MarkEndOfPartition();

  void Cancel();
  // Unlike a local channel's, this notifier is poked by the environment's threads for as long as
  // the channel is open, even after its task ended. REQUIRES: it outlives the channel, or is
  // detached with SetConsumerNotifier(nullptr) first (which waits out any poke in progress).
  void SetConsumerNotifier(TaskNotifier* notifier);
  size_t queued() const;
  size_t capacity() const { return settings_.initial_credits; }
  // Bytes of the data frames received so far, counted as the producer counts them sent.
  std::shared_ptr<const Counter> bytes_received() const { return bytes_received_; }

 private:
  friend class EnvironmentCore;
  void Attach(std::shared_ptr<FrameSink> sink);
  // A buffer arrived. False (with `error`) for a protocol violation: no credit, sequence gap.
  bool Deliver(uint64_t sequence, std::vector<std::byte>&& storage,
               std::span<const std::byte> payload, std::string& error);
  void Fail(const std::string& reason);
  bool AttachedTo(const FrameSink* sink) const;

  const std::shared_ptr<ChannelHost> host_;  // first: outlives the connection below
  const ChannelId id_;
  const ChannelSettings settings_;
  const std::shared_ptr<Counter> bytes_received_ = std::make_shared<Counter>();
  std::shared_ptr<FrameSink> sink_;  // set before the channel is visible to the environment

  mutable std::mutex mutex_;
  std::deque<ReceivedBuffer> queue_;   // guarded by mutex_
  uint64_t expected_sequence_ = 0;     // guarded by mutex_
  uint32_t unused_credits_;            // guarded by mutex_: granted, not yet spent
  // Credits of drained buffers not yet sent back; they go back in groups of announce_threshold_
  // (half the credits), so a fast consumer sends a credit frame per few buffers, not per buffer.
  uint32_t unannounced_credits_ = 0;   // guarded by mutex_
  const uint32_t announce_threshold_;
  TaskNotifier* notifier_ = nullptr;   // guarded by mutex_
  bool cancelled_ = false;             // guarded by mutex_
  bool end_of_partition_ = false;      // guarded by mutex_
  std::string failure_;                // guarded by mutex_
};

}  // namespace brook::network
