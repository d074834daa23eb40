// What the two window operators share (window_operator.h: any assigner and trigger, one state
// entry per window; window_slicing_operator.h: tumbling and sliding windows with incremental
// aggregation, one state entry per slice): the key selector and keyed state, the contents state,
// timestamps, late records, emitting a window's result, and watermarks.
//
// Window contents are one AggregatingState ("window-contents", window_functions.h) of the keyed
// state backend, in a namespace per window or slice, so they are checkpointed like all keyed
// state and live in memory or in LMDB as the job configures. Timers are KeyedSupport's, in the
// namespace of their window.
//
// Results carry the window's maxTimestamp() as their timestamp. Watermarks are forwarded after
// the windows they complete have fired. Processing-time windows read the clock once per input
// batch, so a batch's records share a processing time. Event-time windows need timestamps: a
// record without one fails the task with an error that says so.
//
// Threading: the task thread. Life cycle: as every operator (stream_operator.h); state and
// timers exist from Open() to Close().
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "brook/operators/keyed_support.h"
#include "brook/operators/process_operator.h"
#include "brook/operators/user_function.h"
#include "brook/operators/window_functions.h"
#include "brook/operators/windows.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename K, typename In, typename Out, typename KeySelector, typename Assigner,
          typename Function>
class WindowOperatorBase : public OneInputOperator<In>, protected WithOutput<Out> {
 public:
  using W = typename Assigner::Window;
  using Acc = typename Function::Acc;
  using Aggregate = typename Function::Aggregate;
  using ContentsState = AggregatingState<In, Acc, typename Aggregate::Out>;
  using Timer = typename KeyedSupport<K>::Timer;

  WindowOperatorBase(KeySelector key_selector, Assigner assigner, Function function,
                     WindowSettings settings)
      : key_selector_(std::move(key_selector)),
        assigner_(std::move(assigner)),
        function_(std::move(function)),
        settings_(std::move(settings)),
        lateness_(settings_.allowed_lateness_ms) {
    if (lateness_ < 0) throw std::invalid_argument("allowedLateness must not be negative");
    if (!settings_.late_data_tag.empty()) late_tag_.emplace(settings_.late_data_tag);
    if (!settings_.processing_clock) settings_.processing_clock = &ProcessingTimeService::Now;
  }

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    support_.Open(context,
                  [this](const Timer& timer, TimeDomain domain) { OnTimer(timer, domain); });
    contents_ = &support_.backend().GetAggregatingState(
        AggregatingStateDescriptor<In, Aggregate>{"window-contents", function_.aggregate});
    if (context.metrics) {
      MetricLabels labels = context.metric_labels;
      labels.emplace_back("operator", context.operator_name);
      late_dropped_metric_ = context.metrics->AddCounter("numLateRecordsDropped", labels);
    }
    OpenFunction(function_.emitter, context);
  }

  // Fires the windows the watermark completes, then forwards it.
  void ProcessWatermark(Watermark watermark) override {
    support_.AdvanceWatermark(watermark.timestamp);
    PushBuffered();
    this->EmitWatermarkToAll(watermark);
  }

  void Close() override {
    CloseFunction(function_.emitter);
    support_.Close();
  }

  // Records later than the allowed lateness that no side output took.
  int64_t num_late_records_dropped() const { return late_dropped_; }

 protected:
  // A timer of the current key (already set) fired.
  virtual void OnTimer(const Timer& timer, TimeDomain domain) = 0;

  Timestamp CurrentWatermark() const { return support_.timers().current_watermark(); }
  Timestamp ProcessingTime() const { return settings_.processing_clock(); }

  // The time that places `r` in windows: its timestamp, or `now` for processing-time windows.
  Timestamp WindowTime(const StreamRecord<In>& r, Timestamp now) const {
    if constexpr (Assigner::kEventTime) {
      if (r.timestamp == kNoTimestamp) [[unlikely]]
        ThrowNoTimestamp();
      return r.timestamp;
    } else {
      return now;
    }
  }

  // When a window's state goes: the end of its allowed lateness (event time), else its end.
  Timestamp CleanupTime(Timestamp max_timestamp) const {
    if constexpr (Assigner::kEventTime) return SaturatingAdd(max_timestamp, lateness_);
    return max_timestamp;
  }
  // Whether an element of time `t` is too late for every window it could be in.
  bool IsElementLate(Timestamp t) const {
    return Assigner::kEventTime && SaturatingAdd(t, lateness_) <= CurrentWatermark();
  }

  // Adds `value` to the current key's contents in namespace `ns`; true if that created them
  // (AggregatingState::add's contract).
  bool AddToContents(int64_t ns, const In& value) {
    contents_->SetNamespace(ns);
    return contents_->add(value);
  }
  void ClearContents(int64_t ns) {
    contents_->SetNamespace(ns);
    contents_->clear();
  }
  // Emits `window` of the current key from the contents in `ns`, if there are any.
  void EmitContents(const W& window, int64_t ns) {
    contents_->SetNamespace(ns);
    if (std::optional<Acc> acc = contents_->accumulator()) Emit(window, *acc);
  }
  void Emit(const W& window, const Acc& acc) {
    collector_.SetTimestamp(window.maxTimestamp());
    function_.Emit(support_.current_key(), window, acc, collector_);
  }

  void LateRecord(const StreamRecord<In>& r) {
    if (late_tag_) {
      side_outputs_.Emit(*late_tag_, r.value, r.timestamp);
    } else {
      ++late_dropped_;
    }
  }

  void PushBuffered() {
    collector_.PushBuffered();
    side_outputs_.PushBuffered();
    if (late_dropped_metric_ && late_dropped_ != late_dropped_published_) {
      late_dropped_metric_->Inc(late_dropped_ - late_dropped_published_);
      late_dropped_published_ = late_dropped_;
    }
  }

  static Timestamp SaturatingAdd(Timestamp t, int64_t d) {
    return t > std::numeric_limits<Timestamp>::max() - d ? std::numeric_limits<Timestamp>::max()
                                                         : t + d;
  }

  KeySelector key_selector_;
  Assigner assigner_;
  Function function_;
  WindowSettings settings_;
  const int64_t lateness_;
  KeyedSupport<K> support_;
  ContentsState* contents_ = nullptr;
  Collector<Out> collector_;
  SideOutputs side_outputs_{this};

 private:
  [[noreturn]] void ThrowNoTimestamp() const {
    throw std::runtime_error(
        "Record has no timestamp (kNoTimestamp), but " + assigner_.Describe() +
        " assigns windows by event time. Is the time characteristic wrong? Give the stream "
        "timestamps (assignTimestampsAndWatermarks, or a timestamp function on the source) or "
        "use a processing-time window assigner.");
  }

  std::optional<OutputTag<In>> late_tag_;
  int64_t late_dropped_ = 0;
  int64_t late_dropped_published_ = 0;
  std::shared_ptr<Counter> late_dropped_metric_;
};

}  // namespace brook
