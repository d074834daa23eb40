// The input side of a task, driven by the task loop one step at a time:
// - InputGate<T> reads the channels from the upstream subtasks, round-robin, and hands batches
//   and events to the head of the operator chain. The watermark it forwards is the minimum
//   over its active channels: a channel that ended or went idle no longer holds it back. When
//   every open channel is idle, the gate forwards "idle" itself; it never moves backwards.
//   Checkpoint barriers and end-of-partition go to the task's CheckpointBarrierHandler, which
//   decides which channels stay unpolled while barriers align (a blocked channel is simply not
//   polled: no spinning) and, for unaligned checkpoints, which records are in-flight state.
//   On restore, the channel state of an unaligned checkpoint is replayed before any channel is read.
// - SourceInput asks the source operator at the head of the chain for its next batch.
//
// Threading: the task thread.
#pragma once

#include <algorithm>
#include <concepts>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/checkpoint_barrier_handler.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

class TaskInput {
 public:
  enum class Status {
    kMoreAvailable,     // did some work; call again
    kNothingAvailable,  // nothing to do now: park until notified or WakeAt()
    kEndOfInput,        // all input consumed; the task finishes
  };
  virtual ~TaskInput() = default;
  virtual Status ProcessNext() = 0;
  // For inputs that know when they will have data again (a rate-limited source).
  virtual std::optional<Timestamp> WakeAt() const { return std::nullopt; }

  // Checkpointing, wired before the task runs. Binds this input's channels to `handler`,
  // numbering them from `first_channel` on; returns how many channels it has (0 for sources).
  virtual size_t BindBarrierHandler(CheckpointBarrierHandler* /*handler*/,
                                    size_t /*first_channel*/) {
    return 0;
  }
  virtual size_t num_channels() const { return 0; }
  // Records to hand on before reading any channel: the in-flight records of an unaligned
  // checkpoint, indexed as bound. Throws SerdeError if they do not decode.
  virtual void RestoreChannelState(const ChannelState& /*state*/) {}
};

template <typename T>
class InputGate final : public TaskInput {
 public:
  // `head` is the output leading into the first operator of the chain.
  InputGate(std::vector<ChannelReceiver<T>*> channels, Output<T>* head, TaskIoMetrics* metrics)
      : channels_(std::move(channels)),
        head_(head),
        metrics_(metrics),
        channel_watermarks_(channels_.size(), kMinWatermark),
        ended_(channels_.size(), false),
        idle_(channels_.size(), false) {
    BROOK_CHECK(!channels_.empty(), "an input gate needs at least one channel");
  }

  size_t BindBarrierHandler(CheckpointBarrierHandler* handler, size_t first_channel) override {
    handler_ = handler;
    first_channel_ = first_channel;
    return channels_.size();
  }
  size_t num_channels() const override { return channels_.size(); }

  void RestoreChannelState(const ChannelState& state) override {
    for (size_t c = 0; c < channels_.size() && first_channel_ + c < state.size(); ++c) {
      const auto& records = state[first_channel_ + c];
      if (records.empty()) continue;
      if constexpr (Serializable<T> && std::default_initializable<T>) {
        RecordBatch<T> batch;
        for (const std::string& r : records) {
          auto [value, ts] = Deserialize<std::pair<T, Timestamp>>(std::span<const std::byte>(
              reinterpret_cast<const std::byte*>(r.data()), r.size()));
          batch.push(std::move(value), ts);
        }
        replay_.push_back(std::move(batch));
      } else {
        throw std::invalid_argument("channel state of a record type without a brook::Serde");
      }
    }
  }

  Status ProcessNext() override {
    if (!replay_.empty()) {
      RecordBatch<T> batch = std::move(replay_.front());
      replay_.pop_front();
      head_->Push(batch);
      return Status::kMoreAvailable;
    }
    const size_t n = channels_.size();
    for (size_t k = 0; k < n; ++k) {
      size_t c = next_channel_ + k;
      if (c >= n) c -= n;
      if (ended_[c]) continue;
      if (handler_ && handler_->IsBlocked(first_channel_ + c)) continue;
      if (!channels_[c]->Poll(element_)) continue;
      next_channel_ = c + 1 == n ? 0 : c + 1;
      Handle(c);
      return Status::kMoreAvailable;
    }
    return ended_count_ == n ? Status::kEndOfInput : Status::kNothingAvailable;
  }

  Timestamp current_watermark() const { return current_watermark_; }

 private:
  void Handle(size_t c) {
    if (auto* batch = std::get_if<RecordBatch<T>>(&element_)) {
      if (metrics_) metrics_->records_in->Inc(int64_t(batch->size()));
      if (handler_ && handler_->IsRecording(first_channel_ + c)) RecordInFlight(c, *batch);
      head_->Push(*batch);
      channels_[c]->Recycle(std::move(*batch));
      return;
    }
    const auto& event = std::get<StreamEvent>(element_);
    if (auto* wm = std::get_if<Watermark>(&event)) {
      channel_watermarks_[c] = std::max(channel_watermarks_[c], wm->timestamp);
      AdvanceWatermark();
    } else if (auto* status = std::get_if<WatermarkStatus>(&event)) {
      idle_[c] = status->idle;
      AdvanceWatermark();
    } else if (auto* marker = std::get_if<LatencyMarker>(&event)) {
      head_->EmitLatencyMarker(*marker);
    } else if (auto* barrier = std::get_if<CheckpointBarrier>(&event)) {
      if (handler_) handler_->OnBarrier(*barrier, first_channel_ + c);
    } else if (std::holds_alternative<EndOfPartition>(event)) {
      ended_[c] = true;
      ++ended_count_;
      AdvanceWatermark();
      if (handler_) handler_->OnEndOfPartition(first_channel_ + c);
    }
  }

  // Unaligned checkpoint: records on a channel whose barrier has not arrived belong to the
  // checkpoint's channel state (they are processed as well).
  void RecordInFlight(size_t c, const RecordBatch<T>& batch) {
    if constexpr (Serializable<T>) {
      for (const auto& r : batch.records) {
        std::vector<std::byte> bytes = Serialize(std::pair<T, Timestamp>(r.value, r.timestamp));
        handler_->RecordInFlight(first_channel_ + c,
                                 std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      }
    } else {
      throw std::invalid_argument(
          "unaligned checkpoints need a brook::Serde for every record type crossing channels");
    }
  }

  void AdvanceWatermark() {
    Timestamp min = kMaxWatermark;
    bool any_active = false;
    bool any_open = false;
    for (size_t c = 0; c < channels_.size(); ++c) {
      if (ended_[c]) continue;
      any_open = true;
      if (idle_[c]) continue;
      any_active = true;
      min = std::min(min, channel_watermarks_[c]);
    }
    if (!any_active) {
      // All open channels idle: downstream must not wait for us. (All ended: their final
      // watermarks were forwarded already.)
      if (any_open && !idle_status_) {
        idle_status_ = true;
        head_->EmitWatermarkStatus(WatermarkStatus{true});
      }
      return;
    }
    if (idle_status_) {
      idle_status_ = false;
      head_->EmitWatermarkStatus(WatermarkStatus{false});
    }
    if (min <= current_watermark_) return;
    current_watermark_ = min;
    if (metrics_) metrics_->current_watermark->Set(double(min));
    head_->EmitWatermark(Watermark{min});
  }

  std::vector<ChannelReceiver<T>*> channels_;
  Output<T>* head_;
  TaskIoMetrics* metrics_;
  std::vector<Timestamp> channel_watermarks_;
  std::vector<bool> ended_;
  std::vector<bool> idle_;
  bool idle_status_ = false;  // whether "idle" was forwarded last
  size_t ended_count_ = 0;
  size_t next_channel_ = 0;
  Timestamp current_watermark_ = kMinWatermark;
  ChannelElement<T> element_;
  CheckpointBarrierHandler* handler_ = nullptr;
  size_t first_channel_ = 0;
  std::deque<RecordBatch<T>> replay_;  // restored channel state, handed on first
};

// Reads two gates (the inputs of a two-input operator) alternately, so neither starves.
class TwoGateInput final : public TaskInput {
 public:
  TwoGateInput(std::unique_ptr<TaskInput> first, std::unique_ptr<TaskInput> second) {
    gates_[0] = std::move(first);
    gates_[1] = std::move(second);
  }

  size_t BindBarrierHandler(CheckpointBarrierHandler* handler, size_t first_channel) override {
    size_t n = gates_[0]->BindBarrierHandler(handler, first_channel);
    return n + gates_[1]->BindBarrierHandler(handler, first_channel + n);
  }
  size_t num_channels() const override {
    return gates_[0]->num_channels() + gates_[1]->num_channels();
  }
  void RestoreChannelState(const ChannelState& state) override {
    gates_[0]->RestoreChannelState(state);
    gates_[1]->RestoreChannelState(state);
  }

  Status ProcessNext() override {
    for (int k = 0; k < 2; ++k) {
      int g = (next_ + k) % 2;
      if (ended_[g]) continue;
      Status status = gates_[g]->ProcessNext();
      if (status == Status::kEndOfInput) {
        ended_[g] = true;
        continue;
      }
      if (status == Status::kMoreAvailable) {
        next_ = 1 - g;
        return status;
      }
    }
    return ended_[0] && ended_[1] ? Status::kEndOfInput : Status::kNothingAvailable;
  }

 private:
  std::unique_ptr<TaskInput> gates_[2];
  bool ended_[2] = {false, false};
  int next_ = 0;
};

// Drives the source operator at the head of a chain. At the end of a bounded source it emits
// the final watermark, so event-time results downstream are complete.
class SourceInput final : public TaskInput {
 public:
  explicit SourceInput(SourceOperatorBase* source) : source_(source) {}

  Status ProcessNext() override {
    SourceStatus status;
    AttributeFailures(*source_, [&] { status = source_->EmitNext(); });
    switch (status.kind) {
      case SourceStatus::Kind::kMoreAvailable:
        wake_at_.reset();
        return Status::kMoreAvailable;
      case SourceStatus::Kind::kNothingUntil:
        wake_at_ = status.wake_at_ms;
        return Status::kNothingAvailable;
      case SourceStatus::Kind::kEndOfInput:
        AttributeFailures(*source_, [&] { source_->ProcessWatermark(Watermark{kMaxWatermark}); });
        return Status::kEndOfInput;
    }
    return Status::kEndOfInput;
  }

  std::optional<Timestamp> WakeAt() const override { return wake_at_; }

 private:
  SourceOperatorBase* source_;
  std::optional<Timestamp> wake_at_;
};

}  // namespace brook
