// Keyed state is declared by descriptors: a name (unique per operator), the value types (each
// needs a brook::Serde for the LMDB backend and for checkpoints), and an optional TTL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "brook/runtime/ids.h"

namespace brook {

// Time-to-live of state entries, as in Flink's StateTtlConfig. An expired entry reads as
// absent and is cleaned up lazily on access and incrementally in the background.
struct StateTtlConfig {
  enum class UpdateType { kOnCreateAndWrite, kOnReadAndWrite };
  // Processing time (Flink's only choice) or event time: the operator's current watermark,
  // which makes expiry deterministic for replays and tests.
  enum class TimeCharacteristic { kProcessingTime, kEventTime };

  int64_t ttl_ms = 0;  // 0: no TTL
  UpdateType update_type = UpdateType::kOnCreateAndWrite;
  TimeCharacteristic time = TimeCharacteristic::kProcessingTime;

  bool enabled() const { return ttl_ms > 0; }
  static StateTtlConfig ProcessingTime(int64_t ttl_ms) { return {ttl_ms}; }
  static StateTtlConfig EventTime(int64_t ttl_ms) {
    return {ttl_ms, UpdateType::kOnCreateAndWrite, TimeCharacteristic::kEventTime};
  }
};

enum class StateKind : uint8_t { kValue, kList, kMap, kReducing, kAggregating };

template <typename V>
struct ValueStateDescriptor {
  static constexpr StateKind kKind = StateKind::kValue;
  std::string name;
  StateTtlConfig ttl{};
};

template <typename V>
struct ListStateDescriptor {
  static constexpr StateKind kKind = StateKind::kList;
  std::string name;
  StateTtlConfig ttl{};
};

template <typename UK, typename UV>
struct MapStateDescriptor {
  static constexpr StateKind kKind = StateKind::kMap;
  std::string name;
  StateTtlConfig ttl{};
};

// reduce(const V& accumulated, const V& next) -> V
template <typename V, typename ReduceFn>
struct ReducingStateDescriptor {
  static constexpr StateKind kKind = StateKind::kReducing;
  std::string name;
  ReduceFn reduce;
  StateTtlConfig ttl{};
};

// An incremental aggregation, as Flink's AggregateFunction<IN, ACC, OUT>:
//   Acc CreateAccumulator() const;
//   void Add(const In& value, Acc& acc) const;
//   Out GetResult(const Acc& acc) const;
//   void Merge(const Acc& from, Acc& into) const;    // windows combine slices and sessions with it
template <typename F, typename In>
concept AggregateFunction = requires(const F& f, const In& in) {
  typename F::Acc;
  typename F::Out;
  { f.CreateAccumulator() } -> std::same_as<typename F::Acc>;
  f.Add(in, std::declval<typename F::Acc&>());
  { f.GetResult(std::declval<const typename F::Acc&>()) } -> std::same_as<typename F::Out>;
  f.Merge(std::declval<const typename F::Acc&>(), std::declval<typename F::Acc&>());
};

template <typename In, typename AggFn>
struct AggregatingStateDescriptor {
  static constexpr StateKind kKind = StateKind::kAggregating;
  std::string name;
  AggFn aggregate;
  StateTtlConfig ttl{};
};

}  // namespace brook
