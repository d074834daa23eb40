// How a window's contents are kept and turned into output. Every window function is an
// incremental aggregation (AggregateFunction, state_descriptor.h) kept in one AggregatingState,
// plus an emitter that turns the accumulator into records when the window fires:
//
//   reduce(fn)              Acc = std::optional<T>     emits the reduced value
//   aggregate(agg)          Acc = agg's                emits agg.GetResult(acc)
//   aggregate(agg, wfn)     Acc = agg's                wfn(key, window, result, out)
//   process(fn)             Acc = std::vector<T>       fn(key, window, elements, out)
//
// Keeping even process() contents as an aggregate gives every function the same state path: one
// state access per record, and knowing, from that same access, whether it created the window
// (AggregatingState::add returns it), which is when the window's timers are registered.
//
// Threading: the task thread of one subtask; each subtask has its own copies.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/operators/user_function.h"
#include "brook/runtime/output.h"
#include "brook/runtime/state/state_descriptor.h"

namespace brook {

// Settings of a window operator that WindowedStream collects.
struct WindowSettings {
  int64_t allowed_lateness_ms = 0;
  // The side output of records too late for every window; empty: they are dropped and counted.
  std::string late_data_tag;
  // Processing time; unset: ProcessingTimeService::Now. Tests set it to drive time by hand.
  std::function<Timestamp()> processing_clock;
};

namespace window_internal {

// reduce(fn) as an aggregate: the accumulator is empty until the first element.
template <typename T, typename F>
struct ReduceAggregate {
  using Acc = std::optional<T>;
  using Out = T;
  F fn;

  Acc CreateAccumulator() const { return std::nullopt; }
  void Add(const T& value, Acc& acc) const {
    if (acc) {
      acc = fn(std::as_const(*acc), value);
    } else {
      acc = value;
    }
  }
  Out GetResult(const Acc& acc) const { return *acc; }
  // `into` holds the earlier elements, so fn sees them in time order when slices combine.
  void Merge(const Acc& from, Acc& into) const {
    if (!from) return;
    if (into) {
      into = fn(std::as_const(*into), *from);
    } else {
      into = from;
    }
  }
};

// process(fn): the window keeps its elements.
template <typename T>
struct CollectAggregate {
  using Acc = std::vector<T>;
  using Out = std::vector<T>;
  Acc CreateAccumulator() const { return {}; }
  void Add(const T& value, Acc& acc) const { acc.push_back(value); }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const {
    into.insert(into.end(), from.begin(), from.end());
  }
};

// Emits the aggregate's result as it is.
struct PassThrough {
  template <typename K, typename W, typename R, typename Out>
  void operator()(const K&, const W&, const R& result, Collector<Out>& out) const {
    out.collect(result);
  }
};

// A user window function over the aggregate's result: fn(key, window, result, out), or
// fn(key, window, result) returning the record to emit.
template <typename F>
struct ResultWindowFunction {
  F fn;
  template <typename K, typename W, typename R, typename Out>
  void operator()(const K& key, const W& window, const R& result, Collector<Out>& out) {
    if constexpr (std::is_invocable_v<F&, const K&, const W&, const R&, Collector<Out>&>) {
      fn(key, window, result, out);
    } else {
      out.collect(fn(key, window, result));
    }
  }
  void open(const RuntimeContext& context) { OpenFunction(fn, context); }
  void close() { CloseFunction(fn); }
};

// The window function of an operator: the aggregate that keeps the contents and what to emit.
// kIncremental: contents are an aggregate that windows can share by merging slices.
template <typename Agg, typename Emitter, bool kIsIncremental>
struct WindowFunction {
  using Aggregate = Agg;
  using Acc = typename Agg::Acc;
  static constexpr bool kIncremental = kIsIncremental;

  Agg aggregate;
  Emitter emitter;

  template <typename K, typename W, typename Out>
  void Emit(const K& key, const W& window, const Acc& acc, Collector<Out>& out) {
    if constexpr (kIncremental) {
      emitter(key, window, aggregate.GetResult(acc), out);
    } else {
      emitter(key, window, acc, out);  // process(): the elements themselves
    }
  }
};

template <typename T, typename F, typename Emitter = PassThrough>
auto MakeReduceFunction(F fn, Emitter emitter = {}) {
  return WindowFunction<ReduceAggregate<T, F>, Emitter, true>{{std::move(fn)}, std::move(emitter)};
}
template <typename Agg, typename Emitter = PassThrough>
auto MakeAggregateFunction(Agg agg, Emitter emitter = {}) {
  return WindowFunction<Agg, Emitter, true>{std::move(agg), std::move(emitter)};
}
template <typename T, typename F>
auto MakeProcessFunction(F fn) {
  return WindowFunction<CollectAggregate<T>, F, false>{{}, std::move(fn)};
}

}  // namespace window_internal
}  // namespace brook
