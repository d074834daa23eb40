// Where an operator sends what it produces. An Output is either the next operator of the same
// chain (called directly, same thread), a record writer that partitions into channels to other
// subtasks, or a fan-out to several of these. Records move a batch at a time: one virtual call
// per batch, a plain loop per record.
//
// Threading: the task thread of the producing operator.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "brook/runtime/stream_element.h"

namespace brook {

class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void EmitWatermark(Watermark watermark) = 0;
  virtual void EmitWatermarkStatus(WatermarkStatus status) = 0;
  virtual void EmitLatencyMarker(const LatencyMarker& marker) = 0;
  // Hands partially filled buffers downstream: called before the task parks, before a barrier
  // and at end of input, so that batching never holds records back from an idle consumer.
  virtual void Flush() = 0;
};

template <typename T>
class Output : public OutputBase {
 public:
  // Takes the records of `batch`. The callee may move from or reorder them; the caller clears
  // the batch afterwards and keeps its storage.
  virtual void Push(RecordBatch<T>& batch) = 0;
};

// Emits one record at a time into an Output, batching them. User functions see this as their
// `out`; the operator flushes it at the end of each input batch.
template <typename T>
class Collector {
 public:
  explicit Collector(Output<T>* output = nullptr, size_t batch_size = kDefaultBatchSize)
      : output_(output), batch_size_(batch_size) {
    buffer_.records.reserve(batch_size);
  }

  void SetOutput(Output<T>* output) { output_ = output; }
  // Timestamp given to records collected without one: that of the input record being processed.
  void SetTimestamp(Timestamp ts) { timestamp_ = ts; }

  void collect(T value) { collectWithTimestamp(std::move(value), timestamp_); }
  void collectWithTimestamp(T value, Timestamp ts) {
    buffer_.push(std::move(value), ts);
    if (buffer_.size() >= batch_size_) [[unlikely]]
      PushBuffered();
  }
  // Sends what is buffered to the output.
  void PushBuffered() {
    if (buffer_.empty() || output_ == nullptr) return;
    output_->Push(buffer_);
    buffer_.clear();
  }

 private:
  Output<T>* output_;
  size_t batch_size_;
  RecordBatch<T> buffer_;
  Timestamp timestamp_ = kNoTimestamp;
};

// Sends every batch and event to several outputs; all but the last receive a copy.
template <typename T>
class FanOutOutput final : public Output<T> {
 public:
  explicit FanOutOutput(std::vector<Output<T>*> outputs) : outputs_(std::move(outputs)) {}

  void Push(RecordBatch<T>& batch) override {
    for (size_t i = 0; i + 1 < outputs_.size(); ++i) {
      copy_.records.assign(batch.records.begin(), batch.records.end());
      outputs_[i]->Push(copy_);
      copy_.clear();
    }
    outputs_.back()->Push(batch);
  }
  void EmitWatermark(Watermark wm) override {
    for (auto* o : outputs_) o->EmitWatermark(wm);
  }
  void EmitWatermarkStatus(WatermarkStatus status) override {
    for (auto* o : outputs_) o->EmitWatermarkStatus(status);
  }
  void EmitLatencyMarker(const LatencyMarker& m) override {
    for (auto* o : outputs_) o->EmitLatencyMarker(m);
  }
  void Flush() override {
    for (auto* o : outputs_) o->Flush();
  }

 private:
  std::vector<Output<T>*> outputs_;
  RecordBatch<T> copy_;
};

// The output of a stream nobody consumes (an unused side output, say): drops everything.
template <typename T>
class DiscardingOutput final : public Output<T> {
 public:
  void Push(RecordBatch<T>&) override {}
  void EmitWatermark(Watermark) override {}
  void EmitWatermarkStatus(WatermarkStatus) override {}
  void EmitLatencyMarker(const LatencyMarker&) override {}
  void Flush() override {}
};

}  // namespace brook
