// The input side of a task, driven by the task loop one step at a time:
// - InputGate<T> reads the channels from the upstream subtasks, round-robin, and hands batches
//   and events to the head of the operator chain. The watermark it forwards is the minimum
//   over its active channels: a channel that ended or went idle no longer holds it back. When
//   every open channel is idle, the gate forwards "idle" itself; it never moves backwards.
// - SourceInput asks the source operator at the head of the chain for its next batch.
//
// Threading: the task thread.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/metrics.h"
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
};

template <typename T>
class InputGate final : public TaskInput {
 public:
  using BarrierHandler = std::function<void(const CheckpointBarrier&, size_t channel)>;

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

  // Checkpoint barriers are handed to the task's barrier handler (alignment lives there).
  void SetBarrierHandler(BarrierHandler handler) { barrier_handler_ = std::move(handler); }

  Status ProcessNext() override {
    const size_t n = channels_.size();
    for (size_t k = 0; k < n; ++k) {
      size_t c = next_channel_ + k;
      if (c >= n) c -= n;
      if (ended_[c]) continue;
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
      if (barrier_handler_) barrier_handler_(*barrier, c);
    } else if (std::holds_alternative<EndOfPartition>(event)) {
      ended_[c] = true;
      ++ended_count_;
      AdvanceWatermark();
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
  BarrierHandler barrier_handler_;
};

// Reads two gates (the inputs of a two-input operator) alternately, so neither starves.
class TwoGateInput final : public TaskInput {
 public:
  TwoGateInput(std::unique_ptr<TaskInput> first, std::unique_ptr<TaskInput> second) {
    gates_[0] = std::move(first);
    gates_[1] = std::move(second);
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
