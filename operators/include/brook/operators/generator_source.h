// A deterministic generator source: record i is fn(i), for i in [0, count) (or unbounded).
// The index space is cut into `num_splits` strided splits (split s yields s, s+S, s+2S, ...);
// subtask k of p reads the splits s with s % p == k, taking one record from each in turn, so
// its output follows index order (and event time, for generators whose time grows with the
// index: a watermark after any batch is then accurate). Its position is the next offset within
// each split, so a reader can start from any offset and replay exactly the same records;
// splits, not subtasks, own indices, so positions survive a change of parallelism.
// Checkpoints store every subtask's split offsets in the union list state "generator-splits";
// a restored subtask takes the offsets of the splits it now owns, at any parallelism.
//
// Optional: a rate limit (records per second for the whole source, shared by its subtasks),
// and a timestamp function giving each record its event time.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "brook/operators/user_function.h"
#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/timer_service.h"

namespace brook {

struct GeneratorOptions {
  static constexpr uint64_t kUnbounded = std::numeric_limits<uint64_t>::max();
  uint64_t count = kUnbounded;
  double records_per_second = 0;  // 0: as fast as downstream takes them
  int num_splits = 64;
  size_t batch_size = kDefaultBatchSize;
};

template <typename T, typename F>
class GeneratorSource final : public SourceOperatorBase, WithOutput<T> {
 public:
  using TimestampFn = std::function<Timestamp(const T&)>;

  GeneratorSource(F fn, GeneratorOptions options, TimestampFn timestamp_of = {})
      : fn_(std::move(fn)), options_(options), timestamp_of_(std::move(timestamp_of)) {}

  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    this->BindOutput(this->main_output_base());
    OpenFunction(fn_, context);
    for (int s = context.subtask_index; s < options_.num_splits; s += context.parallelism)
      splits_.push_back(Split{uint64_t(s), 0});
    if (options_.records_per_second > 0)
      rate_per_subtask_ = options_.records_per_second / context.parallelism;
    batch_.records.reserve(options_.batch_size);
  }

  // Starts every owned split at the given offsets (split index -> next offset), to replay.
  void SeekTo(const std::vector<std::pair<uint64_t, uint64_t>>& split_offsets) {
    for (auto& split : splits_)
      for (auto& [id, offset] : split_offsets)
        if (split.id == id) split.next_offset = offset;
  }

  void SnapshotState(SnapshotContext& context) override {
    context.operator_state().GetUnionListState<std::pair<uint64_t, uint64_t>>(kSplitsState).update(
        split_offsets());
  }
  void InitializeState(InitializationContext& context) override {
    auto& state = context.operator_state().GetUnionListState<std::pair<uint64_t, uint64_t>>(kSplitsState);
    if (context.is_restored()) SeekTo(state.get());
  }

  // (split index, next offset) of every split this subtask reads.
  std::vector<std::pair<uint64_t, uint64_t>> split_offsets() const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const Split& split : splits_) out.emplace_back(split.id, split.next_offset);
    return out;
  }

  SourceStatus EmitNext() override {
    size_t budget = options_.batch_size;
    if (rate_per_subtask_ > 0) {
      Timestamp now = ProcessingTimeService::Now();
      if (started_at_ == 0) started_at_ = now;
      double allowed = (double(now - started_at_) / 1000.0) * rate_per_subtask_ + 1;
      if (double(emitted_) >= allowed) {
        auto wait_ms = Timestamp((double(emitted_) + 1 - allowed) * 1000.0 / rate_per_subtask_);
        return SourceStatus::NothingUntil(now + std::max<Timestamp>(1, wait_ms));
      }
      budget = std::min<size_t>(budget, size_t(allowed - double(emitted_)) + 1);
    }
    // One record from each split with records left, in turn; the next call resumes with the
    // split after the last one read.
    const uint64_t stride = uint64_t(options_.num_splits);
    size_t n = 0;
    size_t exhausted_in_a_row = 0;
    while (n < budget && exhausted_in_a_row < splits_.size()) {
      Split& split = splits_[next_split_];
      next_split_ = next_split_ + 1 == splits_.size() ? 0 : next_split_ + 1;
      uint64_t index = split.id + split.next_offset * stride;
      if (index >= options_.count) {
        ++exhausted_in_a_row;
        continue;
      }
      exhausted_in_a_row = 0;
      // fn_'s result is built in its slot of the batch: a large record is not copied again.
      StreamRecord<T>& record = batch_.records.emplace_back(Generated{fn_, index}, kNoTimestamp);
      if (timestamp_of_) record.timestamp = timestamp_of_(record.value);
      ++split.next_offset;
      ++n;
    }
    if (n == 0) return SourceStatus::End();
    emitted_ += n;
    this->output()->Push(batch_);
    batch_.clear();
    return SourceStatus::More();
  }

  void Close() override { CloseFunction(fn_); }

  uint64_t emitted() const { return emitted_; }

 private:
  static constexpr const char* kSplitsState = "generator-splits";
  // Converts to fn(index): initializing a T from it constructs the result in place.
  struct Generated {
    F& fn;
    uint64_t index;
    operator T() const { return fn(index); }
  };
  struct Split {
    uint64_t id;
    uint64_t next_offset;
  };
  F fn_;
  GeneratorOptions options_;
  TimestampFn timestamp_of_;
  std::vector<Split> splits_;
  size_t next_split_ = 0;
  double rate_per_subtask_ = 0;
  Timestamp started_at_ = 0;
  uint64_t emitted_ = 0;
  RecordBatch<T> batch_;
};

}  // namespace brook
