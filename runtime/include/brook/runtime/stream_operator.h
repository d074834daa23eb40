// The operator contract. An operator is instantiated once per subtask, wired to its outputs,
// opened, fed batches and events on the task thread, finished at end of input, and closed:
//
//   construct -> SetMainOutput/AddSideOutput -> Open -> (ProcessBatch | ProcessWatermark)* ->
//   Finish -> Close
//
// Checkpoints (see operator_state_registry.h): InitializeState() runs once after Open() (with
// the restored state when the task restores); SnapshotState() runs at each checkpoint barrier,
// between batches; NotifyCheckpointComplete/Aborted when the coordinator decided (two-phase
// commit sinks commit or abort there). Keyed state and timers of KeyedSupport are snapshotted
// without the operator doing anything.
//
// Close() runs also after a failure or cancellation, so it only releases resources; Finish()
// is where buffered results are emitted. Operators in one chain call each other directly
// through ChainingOutput; implementations update their state first and emit last.
//
// Threading: every method on the task thread.
#pragma once

#include <algorithm>
#include <memory>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/clock.h"
#include "brook/runtime/output.h"
#include "brook/runtime/runtime_context.h"
#include "brook/runtime/stream_element.h"
#include "brook/runtime/task_cancelled.h"

namespace brook {

class SnapshotContext;
class InitializationContext;

class StreamOperatorBase {
 public:
  virtual ~StreamOperatorBase() = default;

  void SetMainOutput(OutputBase* output) { main_output_ = output; }
  void AddSideOutput(std::string tag, OutputBase* output) {
    side_outputs_.emplace_back(std::move(tag), output);
  }
  // The consumer of side output `tag`, or nullptr when nobody consumes it.
  OutputBase* SideOutput(std::string_view tag) const {
    for (const auto& [name, output] : side_outputs_)
      if (name == tag) return output;
    return nullptr;
  }

  virtual void Open(RuntimeContext& context) { context_ = &context; }
  // Default: forward the watermark to every output, side outputs included.
  virtual void ProcessWatermark(Watermark watermark) { EmitWatermarkToAll(watermark); }
  virtual void ProcessWatermarkStatus(WatermarkStatus status) {
    if (main_output_) main_output_->EmitWatermarkStatus(status);
    for (auto& [tag, output] : side_outputs_) output->EmitWatermarkStatus(status);
  }
  // Latency markers bypass user functions: forwarded along the main output, and recorded where
  // they end, at an operator without a main output (a sink).
  virtual void ProcessLatencyMarker(const LatencyMarker& marker) {
    if (main_output_) {
      main_output_->EmitLatencyMarker(marker);
    } else if (context_ != nullptr && context_->latency != nullptr) {
      context_->latency->Record(marker.source_vertex.value(),
                                (WallNowNs() - marker.marked_time_ns) / 1000);
    }
  }
  // The input has ended: emit whatever is still buffered.
  virtual void Finish() {}
  // Releases resources; runs after Finish(), and also after a failure or cancellation.
  virtual void Close() {}

  // Adds this operator's own state (offsets, pending transactions) to checkpoint
  // context.checkpoint_id(), typically into context.operator_state().
  virtual void SnapshotState(SnapshotContext& /*context*/) {}
  // After Open(): takes the restored state (context.is_restored()) or starts fresh.
  virtual void InitializeState(InitializationContext& /*context*/) {}
  // Every task acknowledged checkpoint `id` (ids of checkpoints this task took part in, in
  // increasing order; one notification may stand for older ones it did not receive).
  virtual void NotifyCheckpointComplete(CheckpointId /*id*/) {}
  // Checkpoint `id` will not complete.
  virtual void NotifyCheckpointAborted(CheckpointId /*id*/) {}

  RuntimeContext& context() const { return *context_; }
  const std::string& name() const { return context_->operator_name; }

 protected:
  OutputBase* main_output_base() const { return main_output_; }
  void EmitWatermarkToAll(Watermark watermark) {
    if (main_output_) main_output_->EmitWatermark(watermark);
    for (auto& [tag, output] : side_outputs_) output->EmitWatermark(watermark);
  }
  void FlushAll() {
    if (main_output_) main_output_->Flush();
    for (auto& [tag, output] : side_outputs_) output->Flush();
  }

 private:
  RuntimeContext* context_ = nullptr;
  OutputBase* main_output_ = nullptr;
  std::vector<std::pair<std::string, OutputBase*>> side_outputs_;
};

// Gives an operator its main output with the right type. The chain builder creates that output
// from the operator's declared output type, so the downcast is checked once, in Open().
template <typename Out>
class WithOutput {
 protected:
  Output<Out>* output() const { return output_; }
  void BindOutput(OutputBase* base) {
    output_ = dynamic_cast<Output<Out>*>(base);
    BROOK_CHECK(base == nullptr || output_ != nullptr, "operator output has the wrong type");
  }

 private:
  Output<Out>* output_ = nullptr;
};

template <typename In>
class OneInputOperator : public StreamOperatorBase {
 public:
  using InputType = In;
  // Takes the records of `batch` (may move from them); the caller clears it afterwards.
  virtual void ProcessBatch(RecordBatch<In>& batch) = 0;
};

// The inputs of an operator with two inputs (connect, joins), each fed by its own gate.
template <typename In>
class FirstInput {
 public:
  virtual ~FirstInput() = default;
  virtual void ProcessBatch1(RecordBatch<In>& batch) = 0;
};
template <typename In>
class SecondInput {
 public:
  virtual ~SecondInput() = default;
  virtual void ProcessBatch2(RecordBatch<In>& batch) = 0;
};

// The part of a two-input operator that does not depend on its input types: its event time
// is the minimum of the two inputs' watermarks (an idle input does not count), handed to
// ProcessWatermark() whenever it advances.
class TwoInputOperatorBase : public StreamOperatorBase {
 public:
  // input: 0 or 1.
  void ProcessInputWatermark(int input, Watermark watermark) {
    input_watermarks_[input] = std::max(input_watermarks_[input], watermark.timestamp);
    CombineWatermarks();
  }
  void ProcessInputWatermarkStatus(int input, WatermarkStatus status) {
    input_idle_[input] = status.idle;
    CombineWatermarks();
  }
  Timestamp combined_watermark() const { return combined_; }

 private:
  void CombineWatermarks() {
    Timestamp min = kMaxWatermark;
    bool any_active = false;
    for (int i = 0; i < 2; ++i) {
      if (input_idle_[i]) continue;
      any_active = true;
      min = std::min(min, input_watermarks_[i]);
    }
    if (!any_active || min <= combined_) return;
    combined_ = min;
    ProcessWatermark(Watermark{min});
  }

  Timestamp input_watermarks_[2] = {kMinWatermark, kMinWatermark};
  bool input_idle_[2] = {false, false};
  Timestamp combined_ = kMinWatermark;
};

// An operator with two inputs of types In1 and In2 (connect, joins), each fed by its own gate.
template <typename In1, typename In2>
class TwoInputOperator : public TwoInputOperatorBase,
                         public FirstInput<In1>,
                         public SecondInput<In2> {
 public:
  using FirstType = In1;
  using SecondType = In2;
};

// The output leading into input `Index` (0 or 1) of a two-input operator.
template <typename T, int Index>
class TwoInputChainingOutput final : public Output<T> {
 public:
  using Input = std::conditional_t<Index == 0, FirstInput<T>, SecondInput<T>>;
  TwoInputChainingOutput(TwoInputOperatorBase* op, Input* input) : op_(op), input_(input) {}

  void Push(RecordBatch<T>& batch) override {
    AttributeFailures(*op_, [&] {
      if constexpr (Index == 0) input_->ProcessBatch1(batch);
      else input_->ProcessBatch2(batch);
    });
  }
  void EmitWatermark(Watermark wm) override {
    AttributeFailures(*op_, [&] { op_->ProcessInputWatermark(Index, wm); });
  }
  void EmitWatermarkStatus(WatermarkStatus status) override {
    AttributeFailures(*op_, [&] { op_->ProcessInputWatermarkStatus(Index, status); });
  }
  void EmitLatencyMarker(const LatencyMarker& m) override { op_->ProcessLatencyMarker(m); }
  void Flush() override {}

 private:
  TwoInputOperatorBase* op_;
  Input* input_;
};

// What a source reports after each EmitNext().
struct SourceStatus {
  enum class Kind { kMoreAvailable, kNothingUntil, kEndOfInput };
  Kind kind = Kind::kMoreAvailable;
  Timestamp wake_at_ms = 0;  // for kNothingUntil: processing time to try again at

  static SourceStatus More() { return {Kind::kMoreAvailable, 0}; }
  static SourceStatus NothingUntil(Timestamp t) { return {Kind::kNothingUntil, t}; }
  static SourceStatus End() { return {Kind::kEndOfInput, 0}; }
};

class SourceOperatorBase : public StreamOperatorBase {
 public:
  // Emits at most about one batch into the main output and says whether more is available.
  virtual SourceStatus EmitNext() = 0;
};

// A failure of user or operator code, naming the operator (and subtask) where it happened.
class OperatorFailure : public std::runtime_error {
 public:
  OperatorFailure(std::string operator_name, const std::string& cause)
      : std::runtime_error("operator '" + operator_name + "' failed: " + cause),
        operator_name_(std::move(operator_name)),
        cause_(cause) {}
  const std::string& operator_name() const { return operator_name_; }
  const std::string& cause() const { return cause_; }

 private:
  std::string operator_name_;
  std::string cause_;
};

// Runs `fn`, turning an exception escaping operator `op` into an OperatorFailure that names it.
// Failures already attributed to a downstream operator, and cancellation, pass through.
template <typename F>
inline void AttributeFailures(const StreamOperatorBase& op, F&& fn) {
  try {
    fn();
  } catch (const OperatorFailure&) {
    throw;
  } catch (const TaskCancelled&) {
    throw;
  } catch (const std::exception& e) {
    throw OperatorFailure(op.context().SubtaskName(), e.what());
  } catch (...) {
    throw OperatorFailure(op.context().SubtaskName(), "unknown exception");
  }
}

// The output of an operator whose consumer is the next operator in the same chain.
template <typename T>
class ChainingOutput final : public Output<T> {
 public:
  explicit ChainingOutput(OneInputOperator<T>* target) : target_(target) {}

  void Push(RecordBatch<T>& batch) override {
    AttributeFailures(*target_, [&] { target_->ProcessBatch(batch); });
  }
  void EmitWatermark(Watermark wm) override {
    AttributeFailures(*target_, [&] { target_->ProcessWatermark(wm); });
  }
  void EmitWatermarkStatus(WatermarkStatus status) override {
    AttributeFailures(*target_, [&] { target_->ProcessWatermarkStatus(status); });
  }
  void EmitLatencyMarker(const LatencyMarker& m) override { target_->ProcessLatencyMarker(m); }
  void Flush() override {}  // the chain is flushed through its writers

 private:
  OneInputOperator<T>* target_;
};

}  // namespace brook
