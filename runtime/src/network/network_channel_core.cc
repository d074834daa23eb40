#include "brook/runtime/network/network_channel_core.h"
#include "brook/runtime/clock.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "brook/runtime/network/buffer_pool.h"
#include "brook/runtime/task_cancelled.h"

namespace brook::network {
// --- OutboundChannel ------------------------------------------------------------------------

OutboundChannel::OutboundChannel(std::shared_ptr<ChannelHost> host, const ChannelId& id,
                                 const ChannelSettings& settings)
    : host_(std::move(host)), id_(id), settings_(settings), buffer_(host_->buffers().Acquire()) {}

OutboundChannel::~OutboundChannel() {
  host_->Unregister(this);  // no environment thread touches us after this
  std::shared_ptr<FrameSink> sink;
  {
    std::lock_guard lock(state_mutex_);
    if (!finished_ && !released_ && failure_.empty()) sink = sink_;
  }
  if (sink) sink->Send(EncodeCloseChannel(id_, true, "producer released the channel"));
  host_->buffers().Release(std::move(buffer_));
}

void OutboundChannel::ThrowIfStoppedLocked() const {
  if (cancelled_ || released_) throw TaskCancelled();
  if (!failure_.empty())
    throw std::runtime_error("network channel " + id_.ToString() + " failed: " + failure_);
}

namespace {
// Full buffers one write holds back at most before it sends them together.
constexpr size_t kMaxHeldFrames = 8;
}  // namespace

void OutboundChannel::SendBuffer(std::unique_lock<std::mutex>&, int64_t* backpressure_ns,
                                 bool more_follows) {
  if (buffer_.empty()) return;
  if (buffer_.size() > settings_.max_payload_bytes) {
    throw std::runtime_error("network channel " + id_.ToString() + ": a buffer of " +
                             std::to_string(buffer_.size()) +
                             " bytes (one record too large?) exceeds the frame limit of " +
                             std::to_string(settings_.max_payload_bytes) + " bytes");
  }
  std::shared_ptr<FrameSink> sink;
  {
    std::unique_lock lock(state_mutex_);
    if (credits_ == 0 && !held_.empty()) {
      // The consumer may be waiting for exactly these: send them before waiting for a credit.
      lock.unlock();
      SendHeld();
      lock.lock();
    }
    if (credits_ == 0 && !cancelled_ && !released_ && failure_.empty()) {
      // No credit: the consumer holds all the buffers it granted. Park like a full local channel.
      const auto start = std::chrono::steady_clock::now();
      credit_available_.wait(lock, [&] {
        return credits_ > 0 || cancelled_ || released_ || !failure_.empty();
      });
      if (backpressure_ns) {
        *backpressure_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
      }
    }
    if (cancelled_ || released_ || !failure_.empty()) held_.clear();  // nowhere to go now
    ThrowIfStoppedLocked();
    --credits_;
    flush_pending_ = false;  // this buffer is what a pending flush wanted out
    sink = sink_;
  }
  Transmit(sink, more_follows);
}

void OutboundChannel::Transmit(const std::shared_ptr<FrameSink>& sink, bool hold) {
  OutgoingFrame frame = EncodeDataBuffer(id_, next_sequence_++, std::move(buffer_));
  bytes_sent_->Inc(int64_t(frame.size()));
  buffer_started_ns_.store(0);
  buffer_ = host_->buffers().Acquire();
  if (held_.empty() && !hold) return sink->Send(std::move(frame));
  held_.push_back(std::move(frame));
  held_sink_ = sink;  // the channel binds to one sink for life
  if (!hold || held_.size() == kMaxHeldFrames) SendHeld();
}

void OutboundChannel::SendHeld() {
  if (held_.empty()) return;
  held_sink_->SendAll(held_);
  held_.clear();
}

void OutboundChannel::EndWrite(std::unique_lock<std::mutex>& lock) {
  SendHeld();
  int64_t deadline = 0;
  if (!buffer_.empty() && buffer_started_ns_.load(std::memory_order_relaxed) == 0) {
    const int64_t now = SteadyNowNs();
    buffer_started_ns_.store(now);
    deadline = now + settings_.buffer_timeout_ns;
  }
  lock.unlock();
  if (deadline != 0) host_->WatchBufferTimeout(deadline);
  // A flush requested while we held the buffer (by Flush or the timeout) is ours to send: the
  // environment's threads only try the lock, and a credit may have come meanwhile.
  SendPendingFlush(true);
}

void OutboundChannel::Flush() {
  {
    std::lock_guard buffer_lock(buffer_mutex_);
    if (buffer_.empty()) return;
    std::lock_guard lock(state_mutex_);
    flush_pending_ = true;
  }
  SendPendingFlush(true);
}

void OutboundChannel::SendPendingFlush(bool wait_for_lock) {
  {
    std::lock_guard lock(state_mutex_);
    if (!flush_pending_ || credits_ == 0) return;
  }
  std::unique_lock buffer_lock(buffer_mutex_, std::defer_lock);
  if (wait_for_lock) {
    buffer_lock.lock();
  } else if (!buffer_lock.try_lock()) {
    return;  // the producer holds it and checks for a pending flush when it lets go
  }
  std::shared_ptr<FrameSink> sink;
  {
    std::lock_guard lock(state_mutex_);
    if (buffer_.empty()) flush_pending_ = false;
    if (!flush_pending_ || credits_ == 0 || cancelled_ || released_ || !failure_.empty()) return;
    --credits_;
    flush_pending_ = false;
    sink = sink_;
  }
  Transmit(sink);
}

void OutboundChannel::MarkFinished() {
  std::lock_guard lock(state_mutex_);
  finished_ = true;
}

void OutboundChannel::Cancel() {
  {
    std::lock_guard lock(state_mutex_);
    cancelled_ = true;
  }
  credit_available_.notify_all();
}

size_t OutboundChannel::in_flight() const {
  std::lock_guard lock(state_mutex_);
  return credits_ >= granted_ ? 0 : granted_ - credits_;
}

size_t OutboundChannel::capacity() const {
  std::lock_guard lock(state_mutex_);
  return granted_;
}

bool OutboundChannel::Bind(std::shared_ptr<FrameSink> sink, uint32_t credits) {
  {
    std::lock_guard lock(state_mutex_);
    if (sink_) return false;
    sink_ = std::move(sink);
    credits_ += credits;
    granted_ = credits;
  }
  credit_available_.notify_all();
  SendPendingFlush(false);
  return true;
}

void OutboundChannel::AddCredits(uint32_t credits) {
  {
    std::lock_guard lock(state_mutex_);
    credits_ += credits;
  }
  credit_available_.notify_all();
  SendPendingFlush(false);
}

void OutboundChannel::Release(const std::string&) {
  {
    std::lock_guard lock(state_mutex_);
    released_ = true;
  }
  credit_available_.notify_all();
}

void OutboundChannel::Fail(const std::string& reason) {
  {
    std::lock_guard lock(state_mutex_);
    if (finished_ || !failure_.empty()) return;
    failure_ = reason;
  }
  credit_available_.notify_all();
}

bool OutboundChannel::BoundTo(const FrameSink* sink) const {
  std::lock_guard lock(state_mutex_);
  return sink_.get() == sink;
}

std::optional<int64_t> OutboundChannel::CheckTimeout(int64_t now_ns) {
  const int64_t started = buffer_started_ns_.load();
  if (started == 0) return std::nullopt;
  const int64_t due = started + settings_.buffer_timeout_ns;
  if (now_ns < due) return due;
  {
    std::lock_guard lock(state_mutex_);
    flush_pending_ = true;
  }
  SendPendingFlush(false);
  return std::nullopt;  // sent, or goes out with the next credit or the producer's next write
}

// --- InboundChannel -------------------------------------------------------------------------

InboundChannel::InboundChannel(std::shared_ptr<ChannelHost> host, const ChannelId& id,
                               const ChannelSettings& settings)
    : host_(std::move(host)), id_(id), settings_(settings),
      unused_credits_(settings.initial_credits),
      announce_threshold_(std::max<uint32_t>(1, settings.initial_credits / 2)) {}

InboundChannel::~InboundChannel() {
  host_->Unregister(this);
  bool tell_producer;
  {
    std::lock_guard lock(mutex_);
    tell_producer = !end_of_partition_ && failure_.empty();
    for (auto& buffer : queue_) host_->buffers().Release(std::move(buffer.storage));
  }
  if (tell_producer && sink_)
    sink_->Send(EncodeCloseChannel(id_, false, "consumer released the channel"));
}

bool InboundChannel::Take(ReceivedBuffer& out) {
  std::lock_guard lock(mutex_);
  if (!queue_.empty()) {
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  if (!failure_.empty() && !end_of_partition_ && !cancelled_)
    throw std::runtime_error("network channel " + id_.ToString() + " failed: " + failure_);
  return false;
}

void InboundChannel::Consumed(ReceivedBuffer&& buffer) {
  host_->buffers().Release(std::move(buffer.storage));
  uint32_t announce;
  {
    std::lock_guard lock(mutex_);
    ++unused_credits_;
    if (end_of_partition_ || !failure_.empty() || !sink_) return;  // nothing more will come
    if (++unannounced_credits_ < announce_threshold_) return;
    announce = unannounced_credits_;
    unannounced_credits_ = 0;
  }
  sink_->Send(EncodeCredit(id_, announce));
}

void InboundChannel::MarkEndOfPartition() {
  std::lock_guard lock(mutex_);
  end_of_partition_ = true;
}

// The notifier is poked under mutex_ throughout: SetConsumerNotifier(nullptr) then guarantees
// that no environment thread touches a notifier its task is about to destroy.
void InboundChannel::Cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (notifier_) notifier_->Notify();
}

void InboundChannel::SetConsumerNotifier(TaskNotifier* notifier) {
  std::lock_guard lock(mutex_);
  notifier_ = notifier;
  // Data (or a failure) that arrived before the task was wired.
  if (notifier_ && (!queue_.empty() || !failure_.empty())) notifier_->Notify();
}

size_t InboundChannel::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void InboundChannel::Attach(std::shared_ptr<FrameSink> sink) { sink_ = std::move(sink); }

bool InboundChannel::Deliver(uint64_t sequence, std::vector<std::byte>&& storage,
                             std::span<const std::byte> payload, std::string& error) {
  std::lock_guard lock(mutex_);
  if (sequence != expected_sequence_) {
    error = "channel " + id_.ToString() + ": buffer " + std::to_string(sequence) +
            " arrived, expected " + std::to_string(expected_sequence_);
    return false;
  }
  if (unused_credits_ == 0) {
    error = "channel " + id_.ToString() + ": buffer sent without a credit";
    return false;
  }
  --unused_credits_;
  ++expected_sequence_;
  bytes_received_->Inc(int64_t(kFrameLengthBytes + storage.size()));
  if (queue_.empty() && notifier_) notifier_->Notify();  // empty -> non-empty: wake the consumer
  queue_.push_back(ReceivedBuffer{std::move(storage), payload});
  return true;
}

void InboundChannel::Fail(const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (end_of_partition_ || !failure_.empty()) return;
  failure_ = reason;
  if (notifier_) notifier_->Notify();  // a parked consumer must wake to see the failure
}

bool InboundChannel::AttachedTo(const FrameSink* sink) const { return sink_.get() == sink; }

}  // namespace brook::network
