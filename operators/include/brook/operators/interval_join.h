// Interval join (Flink's KeyedStream.intervalJoin): joins each left record a with every right
// record b of the same key whose time lies in [a.ts + lower, a.ts + upper]:
//
//   fn(const A& left, const B& right, IntervalJoinContext& ctx, Collector<Out>& out)
//
// Both sides are buffered in keyed state (a map from timestamp to the records at it) until the
// watermark shows no partner can still come; results carry max(a.ts, b.ts). Records behind the
// watermark (late) are dropped, as in Flink.
#pragma once

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "brook/operators/co_process_operator.h"

namespace brook {

class IntervalJoinContext {
 public:
  Timestamp leftTimestamp() const { return left_; }
  Timestamp rightTimestamp() const { return right_; }
  Timestamp timestamp() const { return std::max(left_, right_); }
  void Set(Timestamp left, Timestamp right) {
    left_ = left;
    right_ = right;
  }

 private:
  Timestamp left_ = kNoTimestamp;
  Timestamp right_ = kNoTimestamp;
};

template <typename K, typename A, typename B, typename Out, typename KeyA, typename KeyB,
          typename F>
class IntervalJoinOperator final : public TwoInputOperator<A, B>, WithOutput<Out> {
 public:
  IntervalJoinOperator(KeyA key_a, KeyB key_b, int64_t lower_ms, int64_t upper_ms, F fn)
      : key_a_(std::move(key_a)),
        key_b_(std::move(key_b)),
        lower_(lower_ms),
        upper_(upper_ms),
        fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    TwoInputOperator<A, B>::Open(context);
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    support_.Open(context, [this](const auto& timer, TimeDomain) { Cleanup(timer); });
    OpenFunction(fn_, context);
  }

  void ProcessBatch1(RecordBatch<A>& batch) override {
    for (const auto& r : batch.records) {
      if (IsLate(r.timestamp)) continue;
      support_.SetCurrentKey(key_a_(r.value), r.timestamp);
      Buffer(Left(), r.value, r.timestamp);
      for (const auto& [ts, rights] : Right().entries()) {
        if (ts < r.timestamp + lower_ || ts > r.timestamp + upper_) continue;
        for (const auto& b : rights) Emit(r.value, r.timestamp, b, ts);
      }
      // No right record at or before the watermark can arrive any more: keep a until the
      // watermark passes a.ts + upper.
      support_.timers().RegisterEventTimeTimer(support_.current_key(), kLeftNs,
                                               r.timestamp + std::max<int64_t>(upper_, 0));
    }
    collector_.PushBuffered();
  }

  void ProcessBatch2(RecordBatch<B>& batch) override {
    for (const auto& r : batch.records) {
      if (IsLate(r.timestamp)) continue;
      support_.SetCurrentKey(key_b_(r.value), r.timestamp);
      Buffer(Right(), r.value, r.timestamp);
      for (const auto& [ts, lefts] : Left().entries()) {
        if (r.timestamp < ts + lower_ || r.timestamp > ts + upper_) continue;
        for (const auto& a : lefts) Emit(a, ts, r.value, r.timestamp);
      }
      support_.timers().RegisterEventTimeTimer(support_.current_key(), kRightNs,
                                               r.timestamp - std::min<int64_t>(lower_, 0));
    }
    collector_.PushBuffered();
  }

  void ProcessWatermark(Watermark watermark) override {
    support_.AdvanceWatermark(watermark.timestamp);
    this->EmitWatermarkToAll(watermark);
  }

  void Close() override {
    CloseFunction(fn_);
    support_.Close();
  }

 private:
  static constexpr int64_t kLeftNs = 0;
  static constexpr int64_t kRightNs = 1;

  MapState<Timestamp, std::vector<A>>& Left() {
    return support_.backend().GetMapState(left_desc_);
  }
  MapState<Timestamp, std::vector<B>>& Right() {
    return support_.backend().GetMapState(right_desc_);
  }

  bool IsLate(Timestamp ts) const {
    if (ts == kNoTimestamp)
      throw std::runtime_error("interval join needs event timestamps: assign them first");
    return ts < support_.current_watermark();
  }

  template <typename V>
  static void Buffer(MapState<Timestamp, std::vector<V>>& state, const V& value, Timestamp ts) {
    auto list = state.get(ts).value_or(std::vector<V>{});
    list.push_back(value);
    state.put(ts, list);
  }

  void Emit(const A& a, Timestamp ta, const B& b, Timestamp tb) {
    join_ctx_.Set(ta, tb);
    collector_.SetTimestamp(std::max(ta, tb));
    fn_(a, b, join_ctx_, collector_);
  }

  // A buffered record's partners can no longer arrive: drop every record of its side up to it.
  void Cleanup(const typename KeyedSupport<K>::Timer& timer) {
    if (timer.ns == kLeftNs) {
      Timestamp ts = timer.time - std::max<int64_t>(upper_, 0);
      Left().remove(ts);
    } else {
      Timestamp ts = timer.time + std::min<int64_t>(lower_, 0);
      Right().remove(ts);
    }
  }

  KeyA key_a_;
  KeyB key_b_;
  int64_t lower_;
  int64_t upper_;
  F fn_;
  KeyedSupport<K> support_;
  Collector<Out> collector_;
  IntervalJoinContext join_ctx_;
  MapStateDescriptor<Timestamp, std::vector<A>> left_desc_{"interval-join-left"};
  MapStateDescriptor<Timestamp, std::vector<B>> right_desc_{"interval-join-right"};
};

}  // namespace brook
