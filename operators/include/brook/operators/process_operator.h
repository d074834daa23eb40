// Process functions: the general one-input operator. The user function sees each record with a
// context (its timestamp, processing time, side outputs) and a collector for the main output:
//
//   fn(const In& value, ProcessContext& ctx, Collector<Out>& out)   // out.collect(v)
//
// Side outputs are named by an OutputTag<S>; `ctx.output(tag, s)` sends s to the stream that
// `getSideOutput(tag)` returned when the job was built (dropped if nobody consumes it).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "brook/operators/user_function.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename S>
struct OutputTag {
  explicit OutputTag(std::string tag_id) : id(std::move(tag_id)) {}
  std::string id;
};

// Batches what a process function emits to its side outputs, one collector per tag in use.
class SideOutputs {
 public:
  explicit SideOutputs(const StreamOperatorBase* op) : op_(op) {}

  template <typename S>
  void Emit(const OutputTag<S>& tag, S value, Timestamp ts) {
    Slot& slot = Find(tag.id);
    if (!slot.collector) {
      auto* output = dynamic_cast<Output<S>*>(op_->SideOutput(tag.id));
      BROOK_CHECK(op_->SideOutput(tag.id) == nullptr || output != nullptr,
                  "side output tag used with two different types");
      slot.collector = std::make_unique<TypedCollector<S>>(output);
    }
    if (auto* typed = static_cast<TypedCollector<S>*>(slot.collector.get()); typed->has_output)
      typed->collector.collectWithTimestamp(std::move(value), ts);
  }

  void PushBuffered() {
    for (auto& slot : slots_)
      if (slot.collector) slot.collector->PushBuffered();
  }

 private:
  struct CollectorBase {
    virtual ~CollectorBase() = default;
    virtual void PushBuffered() = 0;
  };
  template <typename S>
  struct TypedCollector final : CollectorBase {
    explicit TypedCollector(Output<S>* out) : collector(out), has_output(out != nullptr) {}
    void PushBuffered() override { collector.PushBuffered(); }
    Collector<S> collector;
    bool has_output;
  };
  struct Slot {
    std::string tag;
    std::unique_ptr<CollectorBase> collector;
  };
  Slot& Find(const std::string& tag) {
    for (auto& slot : slots_)
      if (slot.tag == tag) return slot;
    slots_.push_back(Slot{tag, nullptr});
    return slots_.back();
  }

  const StreamOperatorBase* op_;
  std::vector<Slot> slots_;
};

class ProcessContext {
 public:
  ProcessContext(const RuntimeContext* runtime, SideOutputs* side_outputs)
      : runtime_(runtime), side_outputs_(side_outputs) {}

  // Event timestamp of the current record (kNoTimestamp if it has none).
  Timestamp timestamp() const { return timestamp_; }
  Timestamp currentProcessingTime() const { return ProcessingTimeService::Now(); }
  const RuntimeContext& runtime() const { return *runtime_; }

  template <typename S>
  void output(const OutputTag<S>& tag, S value) {
    side_outputs_->Emit(tag, std::move(value), timestamp_);
  }

  void SetTimestamp(Timestamp ts) { timestamp_ = ts; }

 private:
  const RuntimeContext* runtime_;
  SideOutputs* side_outputs_;
  Timestamp timestamp_ = kNoTimestamp;
};

template <typename In, typename Out, typename F>
class ProcessOperator final : public OneInputOperator<In>, WithOutput<Out> {
 public:
  explicit ProcessOperator(F fn) : fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    context_ = std::make_unique<ProcessContext>(&context, &side_outputs_);
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    for (const auto& r : batch.records) {
      context_->SetTimestamp(r.timestamp);
      collector_.SetTimestamp(r.timestamp);
      fn_(r.value, *context_, collector_);
    }
    collector_.PushBuffered();
    side_outputs_.PushBuffered();
  }

  void Close() override { CloseFunction(fn_); }

 private:
  F fn_;
  Collector<Out> collector_;
  SideOutputs side_outputs_{this};
  std::unique_ptr<ProcessContext> context_;
};

}  // namespace brook
