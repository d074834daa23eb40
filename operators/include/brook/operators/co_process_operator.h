// Operators over two connected streams (Flink's connect):
//
// - CoProcessOperator: two inputs, no keys. fn.processElement1(a, ctx, out) and
//   fn.processElement2(b, ctx, out).
// - KeyedCoProcessOperator: both inputs keyed by the same key type; per-key state and timers
//   shared by both sides (fn.onTimer optional).
// - KeyedBroadcastProcessOperator: the broadcast state pattern. A keyed stream meets a stream
//   broadcast to every subtask (rules, a catalog); the broadcast side writes broadcast state
//   (the same map on every subtask), the keyed side reads it:
//     fn.processElement(const A&, KeyedBroadcastContext<K>& ctx, Collector<Out>&)   // read-only
//     fn.processBroadcastElement(const B&, BroadcastContext& ctx, Collector<Out>&)  // writes
#pragma once

#include <memory>
#include <utility>

#include "brook/operators/keyed_process_operator.h"
#include "brook/runtime/state/operator_state.h"
#include "brook/runtime/operator_state_registry.h"

namespace brook {

template <typename A, typename B, typename Out, typename F>
class CoProcessOperator final : public TwoInputOperator<A, B>, WithOutput<Out> {
 public:
  explicit CoProcessOperator(F fn) : fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    TwoInputOperator<A, B>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    context_ = std::make_unique<ProcessContext>(&context, &side_outputs_);
    OpenFunction(fn_, context);
  }
  void ProcessBatch1(RecordBatch<A>& batch) override {
    for (const auto& r : batch.records) {
      Stamp(r.timestamp);
      fn_.processElement1(r.value, *context_, collector_);
    }
    PushBuffered();
  }
  void ProcessBatch2(RecordBatch<B>& batch) override {
    for (const auto& r : batch.records) {
      Stamp(r.timestamp);
      fn_.processElement2(r.value, *context_, collector_);
    }
    PushBuffered();
  }
  void Close() override { CloseFunction(fn_); }

 private:
  void Stamp(Timestamp ts) {
    context_->SetTimestamp(ts);
    collector_.SetTimestamp(ts);
  }
  void PushBuffered() {
    collector_.PushBuffered();
    side_outputs_.PushBuffered();
  }

  F fn_;
  Collector<Out> collector_;
  SideOutputs side_outputs_{this};
  std::unique_ptr<ProcessContext> context_;
};

// Shared by the keyed two-input operators: key state, timers, collector, context.
template <typename K, typename Out, typename Context>
class KeyedTwoInputCore {
 public:
  template <typename Op, typename OnTimer>
  void Open(Op* op, RuntimeContext& context, Output<Out>* output, OnTimer on_timer) {
    collector.SetOutput(output);
    support.Open(context, std::move(on_timer));
    side_outputs = std::make_unique<SideOutputs>(op);
  }
  void Stamp(Timestamp ts) {
    ctx->SetTimestamp(ts);
    collector.SetTimestamp(ts);
  }
  void PushBuffered() {
    collector.PushBuffered();
    side_outputs->PushBuffered();
  }
  // Fires due event-time timers; what they emit precedes the watermark.
  void AdvanceWatermark(Timestamp watermark) {
    support.AdvanceWatermark(watermark);
    PushBuffered();
  }
  // Runs fn.onTimer (if it has one) for a timer whose key is already current.
  template <typename F>
  void FireTimer(F& fn, const typename KeyedSupport<K>::Timer& timer, TimeDomain domain) {
    ctx->SetTimeDomain(domain);
    Stamp(timer.time);
    if constexpr (requires { fn.onTimer(timer.time, *ctx, collector); })
      fn.onTimer(timer.time, *ctx, collector);
    // Processing-time timers fire between batches: send what they emitted right away.
    if (domain == TimeDomain::kProcessingTime) PushBuffered();
  }
  template <typename F>
  void Close(F& fn) {
    CloseFunction(fn);
    support.Close();
  }

  KeyedSupport<K> support;
  Collector<Out> collector;
  std::unique_ptr<SideOutputs> side_outputs;
  std::unique_ptr<Context> ctx;
};

template <typename K, typename A, typename B, typename Out, typename KeyA, typename KeyB,
          typename F>
class KeyedCoProcessOperator final : public TwoInputOperator<A, B>, WithOutput<Out> {
 public:
  KeyedCoProcessOperator(KeyA key_a, KeyB key_b, F fn)
      : key_a_(std::move(key_a)), key_b_(std::move(key_b)), fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    TwoInputOperator<A, B>::Open(context);
    this->BindOutput(this->main_output_base());
    core_.Open(this, context, this->output(),
               [this](const auto& timer, TimeDomain domain) { OnTimer(timer, domain); });
    core_.ctx = std::make_unique<KeyedProcessContext<K>>(&context, &core_.support,
                                                         core_.side_outputs.get());
    OpenFunction(fn_, context);
  }
  void ProcessBatch1(RecordBatch<A>& batch) override {
    for (const auto& r : batch.records) {
      core_.support.SetCurrentKey(key_a_(r.value), r.timestamp);
      core_.Stamp(r.timestamp);
      fn_.processElement1(r.value, *core_.ctx, core_.collector);
    }
    core_.PushBuffered();
  }
  void ProcessBatch2(RecordBatch<B>& batch) override {
    for (const auto& r : batch.records) {
      core_.support.SetCurrentKey(key_b_(r.value), r.timestamp);
      core_.Stamp(r.timestamp);
      fn_.processElement2(r.value, *core_.ctx, core_.collector);
    }
    core_.PushBuffered();
  }
  void ProcessWatermark(Watermark watermark) override {
    core_.AdvanceWatermark(watermark.timestamp);
    this->EmitWatermarkToAll(watermark);
  }
  void Close() override { core_.Close(fn_); }

 private:
  void OnTimer(const typename KeyedSupport<K>::Timer& timer, TimeDomain domain) {
    core_.FireTimer(fn_, timer, domain);
  }

  KeyA key_a_;
  KeyB key_b_;
  F fn_;
  KeyedTwoInputCore<K, Out, KeyedProcessContext<K>> core_;
};

// The keyed side's context in the broadcast pattern: keyed state and timers, and read-only
// access to the broadcast state.
template <typename K>
class KeyedBroadcastContext : public KeyedProcessContext<K> {
 public:
  KeyedBroadcastContext(const RuntimeContext* runtime, KeyedSupport<K>* support,
                        SideOutputs* side_outputs, OperatorStateStore* store)
      : KeyedProcessContext<K>(runtime, support, side_outputs), store_(store) {}

  template <typename UK, typename UV>
  const BroadcastState<UK, UV>& getBroadcastState(const MapStateDescriptor<UK, UV>& d) {
    return store_->GetBroadcastState<UK, UV>(d.name);
  }

 private:
  OperatorStateStore* store_;
};

// The broadcast side's context: writes the broadcast state. Every subtask sees every broadcast
// element, so every subtask's copy of the state stays the same.
class BroadcastContext {
 public:
  BroadcastContext(const RuntimeContext* runtime, OperatorStateStore* store,
                   SideOutputs* side_outputs)
      : runtime_(runtime), store_(store), side_outputs_(side_outputs) {}

  template <typename UK, typename UV>
  BroadcastState<UK, UV>& getBroadcastState(const MapStateDescriptor<UK, UV>& d) {
    return store_->GetBroadcastState<UK, UV>(d.name);
  }
  Timestamp timestamp() const { return timestamp_; }
  const RuntimeContext& runtime() const { return *runtime_; }
  template <typename S>
  void output(const OutputTag<S>& tag, S value) {
    side_outputs_->Emit(tag, std::move(value), timestamp_);
  }
  void SetTimestamp(Timestamp ts) { timestamp_ = ts; }

 private:
  const RuntimeContext* runtime_;
  OperatorStateStore* store_;
  SideOutputs* side_outputs_;
  Timestamp timestamp_ = kNoTimestamp;
};

template <typename K, typename A, typename B, typename Out, typename KeyA, typename F>
class KeyedBroadcastProcessOperator final : public TwoInputOperator<A, B>, WithOutput<Out> {
 public:
  KeyedBroadcastProcessOperator(KeyA key_a, F fn) : key_a_(std::move(key_a)), fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    TwoInputOperator<A, B>::Open(context);
    this->BindOutput(this->main_output_base());
    // In a task, broadcast state lives in the operator's checkpointed store (restored before Open).
    store_ = context.state_registry ? &context.state_registry->operator_state() : &own_store_;
    core_.Open(this, context, this->output(),
               [this](const auto& timer, TimeDomain domain) { OnTimer(timer, domain); });
    core_.ctx = std::make_unique<KeyedBroadcastContext<K>>(&context, &core_.support,
                                                           core_.side_outputs.get(), store_);
    broadcast_ctx_ = std::make_unique<BroadcastContext>(&context, store_, core_.side_outputs.get());
    OpenFunction(fn_, context);
  }
  void ProcessBatch1(RecordBatch<A>& batch) override {
    for (const auto& r : batch.records) {
      core_.support.SetCurrentKey(key_a_(r.value), r.timestamp);
      core_.Stamp(r.timestamp);
      fn_.processElement(r.value, *core_.ctx, core_.collector);
    }
    core_.PushBuffered();
  }
  void ProcessBatch2(RecordBatch<B>& batch) override {
    for (const auto& r : batch.records) {
      broadcast_ctx_->SetTimestamp(r.timestamp);
      core_.collector.SetTimestamp(r.timestamp);
      fn_.processBroadcastElement(r.value, *broadcast_ctx_, core_.collector);
    }
    core_.PushBuffered();
  }
  void ProcessWatermark(Watermark watermark) override {
    core_.AdvanceWatermark(watermark.timestamp);
    this->EmitWatermarkToAll(watermark);
  }
  void Close() override { core_.Close(fn_); }

  OperatorStateStore& operator_state() { return *store_; }

 private:
  void OnTimer(const typename KeyedSupport<K>::Timer& timer, TimeDomain domain) {
    core_.FireTimer(fn_, timer, domain);
  }

  KeyA key_a_;
  F fn_;
  OperatorStateStore own_store_;  // without a task (harnesses)
  OperatorStateStore* store_ = &own_store_;
  KeyedTwoInputCore<K, Out, KeyedBroadcastContext<K>> core_;
  std::unique_ptr<BroadcastContext> broadcast_ctx_;
};

}  // namespace brook
