// A source over a fixed collection: element i goes to subtask i % parallelism, in order.
// Its position is each subtask's next index, kept in checkpoints as union list state
// "collection-positions" of (parallelism, subtask, next index): a restored subtask, at any
// parallelism, skips exactly the elements their old owner had emitted.
#pragma once

#include <cstdint>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename T>
class CollectionSource final : public SourceOperatorBase, WithOutput<T> {
 public:
  // Shared: every subtask reads the same immutable collection.
  explicit CollectionSource(std::shared_ptr<const std::vector<T>> elements)
      : elements_(std::move(elements)) {}

  void Open(RuntimeContext& context) override {
    SourceOperatorBase::Open(context);
    this->BindOutput(this->main_output_base());
    next_ = size_t(context.subtask_index);
    stride_ = size_t(context.parallelism);
    context_subtask_ = context.subtask_index;
  }

  void SnapshotState(SnapshotContext& context) override {
    context.operator_state().GetUnionListState<Position>(kPositionsState).update(
        {Position(int32_t(stride_), int32_t(context_subtask_), uint64_t(next_))});
  }
  void InitializeState(InitializationContext& context) override {
    auto& positions = context.operator_state().GetUnionListState<Position>(kPositionsState);
    if (!context.is_restored()) return;
    for (const auto& [parallelism, subtask, next] : positions.get()) {
      if (parallelism <= 0 || subtask < 0 || subtask >= parallelism) continue;
      if (old_next_.empty()) old_next_.assign(size_t(parallelism), 0);
      if (size_t(parallelism) != old_next_.size()) continue;  // one snapshot has one parallelism
      old_next_[size_t(subtask)] = next;
    }
  }

  SourceStatus EmitNext() override {
    if (next_ >= elements_->size()) return SourceStatus::End();
    for (size_t n = 0; n < kDefaultBatchSize && next_ < elements_->size(); next_ += stride_) {
      if (!old_next_.empty() && next_ < old_next_[next_ % old_next_.size()]) continue;  // replayed
      batch_.push((*elements_)[next_], kNoTimestamp);
      ++n;
    }
    if (batch_.empty()) return next_ >= elements_->size() ? SourceStatus::End() : SourceStatus::More();
    this->output()->Push(batch_);
    batch_.clear();
    return SourceStatus::More();
  }

 private:
  using Position = std::tuple<int32_t, int32_t, uint64_t>;
  static constexpr const char* kPositionsState = "collection-positions";

  std::shared_ptr<const std::vector<T>> elements_;
  int context_subtask_ = 0;
  std::vector<uint64_t> old_next_;  // restored: next index of each old subtask
  size_t next_ = 0;
  size_t stride_ = 1;
  RecordBatch<T> batch_;
};

}  // namespace brook
