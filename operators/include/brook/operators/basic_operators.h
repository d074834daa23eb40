// The stateless one-input operators: map, filter and flatMap. Each runs its user function in a
// plain loop over the batch; records keep their event timestamps.
#pragma once

#include <type_traits>
#include <utility>

#include "brook/operators/user_function.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename In, typename Out, typename F>
class MapOperator final : public OneInputOperator<In>, WithOutput<Out> {
 public:
  explicit MapOperator(F fn) : fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    this->BindOutput(this->main_output_base());
    OpenFunction(fn_, context);
    out_.records.reserve(kDefaultBatchSize);
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    if constexpr (std::is_same_v<In, Out>) {
      // Same type: rewrite in place, no second buffer.
      for (auto& r : batch.records) r.value = fn_(std::as_const(r.value));
      this->output()->Push(batch);
    } else {
      for (const auto& r : batch.records) out_.records.push_back({fn_(r.value), r.timestamp});
      this->output()->Push(out_);
      out_.clear();
    }
  }

  void Close() override { CloseFunction(fn_); }

 private:
  F fn_;
  RecordBatch<Out> out_;
};

template <typename T, typename F>
class FilterOperator final : public OneInputOperator<T>, WithOutput<T> {
 public:
  explicit FilterOperator(F fn) : fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<T>::Open(context);
    this->BindOutput(this->main_output_base());
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<T>& batch) override {
    // Compact the kept records to the front, in place.
    auto& records = batch.records;
    size_t kept = 0;
    if constexpr (std::is_trivially_copyable_v<T>) {
      // Branch-free: always copy, advance only when kept. A filter that drops a random share
      // of records mispredicts a branch on every few records; this costs one store instead.
      for (size_t i = 0; i < records.size(); ++i) {
        bool keep = fn_(std::as_const(records[i].value));
        records[kept] = records[i];
        kept += keep;
      }
    } else {
      for (size_t i = 0; i < records.size(); ++i) {
        if (fn_(std::as_const(records[i].value))) {
          if (kept != i) records[kept] = std::move(records[i]);
          ++kept;
        }
      }
    }
    records.erase(records.begin() + kept, records.end());
    if (!records.empty()) this->output()->Push(batch);
  }

  void Close() override { CloseFunction(fn_); }

 private:
  F fn_;
};

// fn(const In&, Collector<Out>&) emits zero or more records per input.
template <typename In, typename Out, typename F>
class FlatMapOperator final : public OneInputOperator<In>, WithOutput<Out> {
 public:
  explicit FlatMapOperator(F fn) : fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    for (const auto& r : batch.records) {
      collector_.SetTimestamp(r.timestamp);
      fn_(r.value, collector_);
    }
    collector_.PushBuffered();
  }

  void Close() override { CloseFunction(fn_); }

 private:
  F fn_;
  Collector<Out> collector_;
};

}  // namespace brook
