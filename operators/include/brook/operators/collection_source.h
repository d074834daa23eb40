// A source over a fixed collection: element i goes to subtask i % parallelism, in order.
#pragma once

#include <memory>
#include <utility>
#include <vector>

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
  }

  SourceStatus EmitNext() override {
    if (next_ >= elements_->size()) return SourceStatus::End();
    for (size_t n = 0; n < kDefaultBatchSize && next_ < elements_->size(); ++n, next_ += stride_)
      batch_.push((*elements_)[next_], kNoTimestamp);
    this->output()->Push(batch_);
    batch_.clear();
    return SourceStatus::More();
  }

 private:
  std::shared_ptr<const std::vector<T>> elements_;
  size_t next_ = 0;
  size_t stride_ = 1;
  RecordBatch<T> batch_;
};

}  // namespace brook
