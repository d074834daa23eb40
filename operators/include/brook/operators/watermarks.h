// Event time: a WatermarkStrategy says how records get their timestamps and how watermarks
// follow them, as Flink's does:
//
//   WatermarkStrategy<Click>::forBoundedOutOfOrderness(5'000)     // 5 s of disorder tolerated
//       .withTimestampAssigner([](const Click& c) { return c.ts; })
//       .withIdleness(30'000);                                     // quiet 30 s -> idle
//
// The assigner operator stamps records, tracks the largest timestamp, and emits
// watermark = max - bound - 1 every auto-watermark interval of processing time (0: after every
// batch), an "idle" status when no record came for the idleness timeout, and "active" when
// records return. Upstream watermarks are ignored except the final one at end of input.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>

#include "brook/runtime/stream_operator.h"

namespace brook {

// A custom watermark generator (Flink's WatermarkGenerator), called for every record.
template <typename T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void onEvent(const T& value, Timestamp timestamp) = 0;
  // The watermark to emit now; kMinWatermark when there is none yet.
  virtual Timestamp currentWatermark() = 0;
};

template <typename T>
struct WatermarkStrategy {
  std::function<Timestamp(const T&)> timestamp_of;  // unset: keep the records' timestamps
  int64_t max_out_of_orderness_ms = 0;
  std::function<std::unique_ptr<WatermarkGenerator<T>>()> custom_generator;
  int64_t idle_timeout_ms = 0;  // 0: never idle

  static WatermarkStrategy forBoundedOutOfOrderness(int64_t max_out_of_orderness_ms) {
    WatermarkStrategy s;
    s.max_out_of_orderness_ms = max_out_of_orderness_ms;
    return s;
  }
  static WatermarkStrategy forMonotonousTimestamps() { return forBoundedOutOfOrderness(0); }
  static WatermarkStrategy forGenerator(
      std::function<std::unique_ptr<WatermarkGenerator<T>>()> factory) {
    WatermarkStrategy s;
    s.custom_generator = std::move(factory);
    return s;
  }
  WatermarkStrategy& withTimestampAssigner(std::function<Timestamp(const T&)> fn) {
    timestamp_of = std::move(fn);
    return *this;
  }
  WatermarkStrategy& withIdleness(int64_t timeout_ms) {
    idle_timeout_ms = timeout_ms;
    return *this;
  }
};

template <typename T>
class TimestampsAndWatermarksOperator final : public OneInputOperator<T>, WithOutput<T> {
 public:
  TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy, int64_t interval_ms)
      : strategy_(std::move(strategy)), interval_ms_(interval_ms) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<T>::Open(context);
    this->BindOutput(this->main_output_base());
    if (strategy_.custom_generator) generator_ = strategy_.custom_generator();
    last_record_at_ = ProcessingTimeService::Now();
    int64_t tick = interval_ms_;
    if (strategy_.idle_timeout_ms > 0)
      tick = tick > 0 ? std::min(tick, strategy_.idle_timeout_ms) : strategy_.idle_timeout_ms;
    if (tick > 0) ScheduleTick(tick);
    tick_ms_ = tick;
  }

  void ProcessBatch(RecordBatch<T>& batch) override {
    if (batch.empty()) return;
    if (idle_) {
      idle_ = false;
      this->output()->EmitWatermarkStatus(WatermarkStatus{false});
    }
    last_record_at_ = ProcessingTimeService::Now();
    Timestamp max = max_timestamp_;
    for (auto& r : batch.records) {
      if (strategy_.timestamp_of) r.timestamp = strategy_.timestamp_of(r.value);
      max = std::max(max, r.timestamp);
      if (generator_) generator_->onEvent(r.value, r.timestamp);
    }
    max_timestamp_ = max;
    this->output()->Push(batch);
    if (interval_ms_ == 0) EmitWatermarkIfAdvanced();
  }

  void ProcessWatermark(Watermark watermark) override {
    // Only the end of input passes: this operator makes the watermarks of its stream.
    if (watermark.timestamp == kMaxWatermark) {
      emitted_ = kMaxWatermark;
      this->output()->EmitWatermark(watermark);
    }
  }
  void ProcessWatermarkStatus(WatermarkStatus) override {}

 private:
  Timestamp CurrentWatermark() const {
    if (generator_) return generator_->currentWatermark();
    if (max_timestamp_ == kMinWatermark) return kMinWatermark;
    return max_timestamp_ - strategy_.max_out_of_orderness_ms - 1;
  }

  void EmitWatermarkIfAdvanced() {
    Timestamp wm = CurrentWatermark();
    if (wm > emitted_) {
      emitted_ = wm;
      this->output()->EmitWatermark(Watermark{wm});
    }
  }

  void ScheduleTick(int64_t tick) {
    this->context().timers->RegisterTimer(ProcessingTimeService::Now() + tick, [this, tick](Timestamp now) {
      if (emitted_ == kMaxWatermark) return;  // input ended
      EmitWatermarkIfAdvanced();
      if (strategy_.idle_timeout_ms > 0 && !idle_ &&
          now - last_record_at_ >= strategy_.idle_timeout_ms) {
        idle_ = true;
        this->output()->EmitWatermarkStatus(WatermarkStatus{true});
      }
      ScheduleTick(tick);
    });
  }

  WatermarkStrategy<T> strategy_;
  int64_t interval_ms_;
  int64_t tick_ms_ = 0;
  std::unique_ptr<WatermarkGenerator<T>> generator_;
  Timestamp max_timestamp_ = kMinWatermark;
  Timestamp emitted_ = kMinWatermark;
  Timestamp last_record_at_ = 0;
  bool idle_ = false;
};

}  // namespace brook
