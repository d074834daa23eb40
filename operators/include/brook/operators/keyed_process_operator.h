// Keyed process functions: per-key state and timers, as Flink's KeyedProcessFunction. The
// function is a lambda `fn(const In&, KeyedProcessContext<K>&, Collector<Out>&)` or an object
//
//   struct CartAbandonment {
//     void processElement(const Event& e, brook::KeyedProcessContext<UserId>& ctx,
//                         brook::Collector<Offer>& out);
//     void onTimer(brook::Timestamp time, brook::KeyedProcessContext<UserId>& ctx,
//                  brook::Collector<Offer>& out);                      // optional
//     void open(const brook::RuntimeContext&);                         // optional
//   };
//
// State comes from the context (ctx.getState(descriptor) and friends) and is scoped to the
// current key; timers registered through ctx.timerService() fire onTimer with their key set.
#pragma once

#include <memory>
#include <utility>

#include "brook/operators/keyed_support.h"
#include "brook/operators/process_operator.h"
#include "brook/operators/user_function.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename K>
class KeyedProcessContext {
 public:
  class TimerService {
   public:
    explicit TimerService(KeyedProcessContext* ctx) : ctx_(ctx) {}
    void registerEventTimeTimer(Timestamp time) {
      ctx_->support_->timers().RegisterEventTimeTimer(ctx_->getCurrentKey(), 0, time);
    }
    void deleteEventTimeTimer(Timestamp time) {
      ctx_->support_->timers().DeleteEventTimeTimer(ctx_->getCurrentKey(), 0, time);
    }
    void registerProcessingTimeTimer(Timestamp time) {
      ctx_->support_->timers().RegisterProcessingTimeTimer(ctx_->getCurrentKey(), 0, time);
    }
    void deleteProcessingTimeTimer(Timestamp time) {
      ctx_->support_->timers().DeleteProcessingTimeTimer(ctx_->getCurrentKey(), 0, time);
    }
    Timestamp currentWatermark() const { return ctx_->support_->timers().current_watermark(); }
    Timestamp currentProcessingTime() const { return ProcessingTimeService::Now(); }

   private:
    KeyedProcessContext* ctx_;
  };

  KeyedProcessContext(const RuntimeContext* runtime, KeyedSupport<K>* support,
                      SideOutputs* side_outputs)
      : runtime_(runtime), support_(support), side_outputs_(side_outputs) {}

  const K& getCurrentKey() const { return support_->current_key(); }
  // The current record's timestamp, or the firing time in onTimer.
  Timestamp timestamp() const { return timestamp_; }
  // In onTimer: which kind of timer fired.
  TimeDomain timeDomain() const { return time_domain_; }
  TimerService& timerService() { return timer_service_; }
  const RuntimeContext& runtime() const { return *runtime_; }

  template <typename V>
  ValueState<V>& getState(const ValueStateDescriptor<V>& d) {
    return support_->backend().GetState(d);
  }
  template <typename V>
  ListState<V>& getListState(const ListStateDescriptor<V>& d) {
    return support_->backend().GetListState(d);
  }
  template <typename UK, typename UV>
  MapState<UK, UV>& getMapState(const MapStateDescriptor<UK, UV>& d) {
    return support_->backend().GetMapState(d);
  }
  template <typename V, typename F>
  ReducingState<V>& getReducingState(const ReducingStateDescriptor<V, F>& d) {
    return support_->backend().GetReducingState(d);
  }
  template <typename In, typename F>
  auto& getAggregatingState(const AggregatingStateDescriptor<In, F>& d) {
    return support_->backend().GetAggregatingState(d);
  }

  template <typename S>
  void output(const OutputTag<S>& tag, S value) {
    side_outputs_->Emit(tag, std::move(value), timestamp_);
  }

  void SetTimestamp(Timestamp ts) { timestamp_ = ts; }
  void SetTimeDomain(TimeDomain domain) { time_domain_ = domain; }

 private:
  const RuntimeContext* runtime_;
  KeyedSupport<K>* support_;
  SideOutputs* side_outputs_;
  TimerService timer_service_{this};
  Timestamp timestamp_ = kNoTimestamp;
  TimeDomain time_domain_ = TimeDomain::kEventTime;
};

template <typename K, typename In, typename Out, typename KeySelector, typename F>
class KeyedProcessOperator final : public OneInputOperator<In>, WithOutput<Out> {
 public:
  KeyedProcessOperator(KeySelector key_selector, F fn)
      : key_selector_(std::move(key_selector)), fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    support_.Open(context, [this](const auto& timer, TimeDomain domain) { OnTimer(timer, domain); });
    context_ = std::make_unique<KeyedProcessContext<K>>(&context, &support_, &side_outputs_);
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    for (const auto& r : batch.records) {
      support_.SetCurrentKey(key_selector_(r.value), r.timestamp);
      context_->SetTimestamp(r.timestamp);
      collector_.SetTimestamp(r.timestamp);
      if constexpr (requires { fn_.processElement(r.value, *context_, collector_); })
        fn_.processElement(r.value, *context_, collector_);
      else
        fn_(r.value, *context_, collector_);
    }
    PushBuffered();
  }

  void ProcessWatermark(Watermark watermark) override {
    support_.AdvanceWatermark(watermark.timestamp);
    PushBuffered();
    this->EmitWatermarkToAll(watermark);
  }

  void Close() override {
    CloseFunction(fn_);
    support_.Close();
  }

 private:
  void OnTimer(const typename KeyedSupport<K>::Timer& timer, TimeDomain domain) {
    context_->SetTimestamp(timer.time);
    context_->SetTimeDomain(domain);
    collector_.SetTimestamp(domain == TimeDomain::kEventTime ? timer.time : kNoTimestamp);
    if constexpr (requires { fn_.onTimer(timer.time, *context_, collector_); })
      fn_.onTimer(timer.time, *context_, collector_);
    // Processing-time timers fire between batches: send what they emitted right away.
    if (domain == TimeDomain::kProcessingTime) PushBuffered();
  }

  void PushBuffered() {
    collector_.PushBuffered();
    side_outputs_.PushBuffered();
  }

  KeySelector key_selector_;
  F fn_;
  KeyedSupport<K> support_;
  Collector<Out> collector_;
  SideOutputs side_outputs_{this};
  std::unique_ptr<KeyedProcessContext<K>> context_;
};

}  // namespace brook
