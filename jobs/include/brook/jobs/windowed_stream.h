// WindowedStream: a keyed stream cut into windows, as Flink's. Made by KeyedStream::window(),
// configured with trigger(), allowedLateness() and sideOutputLateData(), and turned back into a
// DataStream by a window function:
//
//   OutputTag<Click> late("late-clicks");
//   auto counts = clicks.keyBy([](const Click& c) { return c.item; })
//       .window(SlidingEventTimeWindows::of(3'600'000, 60'000))
//       .allowedLateness(30'000)
//       .sideOutputLateData(late)
//       .aggregate(CountClicks{},   // AggregateFunction: CreateAccumulator/Add/GetResult/Merge
//                  [](const std::string& item, const TimeWindow& w, const int64_t& count) {
//                    return ItemCount{item, w.end, count};
//                  });
//   counts.getSideOutput(late).print();
//
// Window functions:
//   reduce(fn)          fn(const T&, const T&) -> T, incremental; emits T
//   aggregate(agg)      incremental; emits agg's Out
//   aggregate(agg, wfn) wfn(const K&, const W&, const Agg::Out&, Collector<Out>&), or the same
//                       without the collector returning Out
//   reduce(fn, wfn)     likewise over the reduced T
//   process(fn)         fn(const K&, const W&, const std::vector<T>&, Collector<Out>&): all of
//                       the window's elements (kept until the window is cleaned up)
// W is the assigner's window type (TimeWindow, or GlobalWindow for GlobalWindows). Out is deduced
// from a non-generic function; give it explicitly otherwise: process<Out>(fn).
//
// Tumbling and sliding windows with reduce/aggregate and their default trigger share slices
// (window_slicing_operator.h); everything else runs on WindowOperator (window_operator.h).
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/jobs/data_stream.h"
#include "brook/jobs/function_traits.h"
#include "brook/operators/window_operator.h"
#include "brook/operators/window_slicing_operator.h"
#include "brook/operators/windows.h"

namespace brook {

template <typename K, typename T, typename KeySelector, typename Assigner>
class WindowedStream {
 public:
  using Window = typename Assigner::Window;

  WindowedStream(KeyedStream<K, T, KeySelector> input, Assigner assigner)
      : input_(std::move(input)), assigner_(std::move(assigner)) {}

  // Replaces the assigner's default trigger (windows.h says what a trigger is).
  template <typename Trigger>
  auto trigger(Trigger trigger) const {
    using Plain = typename window_internal::BaseAssigner<Assigner>::type;
    using Triggered = WithTrigger<Plain, Trigger>;
    WindowedStream<K, T, KeySelector, Triggered> out(
        input_, Triggered(static_cast<const Plain&>(assigner_), std::move(trigger)));
    out.settings_ = settings_;
    return out;
  }

  // Keeps event-time windows for `ms` after they fired: records arriving within that time
  // re-fire them with the updated result. Default 0; processing-time windows ignore it.
  // Throws std::invalid_argument if negative.
  WindowedStream& allowedLateness(int64_t ms) {
    if (ms < 0) throw std::invalid_argument("allowedLateness must not be negative");
    settings_.allowed_lateness_ms = ms;
    return *this;
  }

  // Sends records too late for all their windows to `tag` (getSideOutput on the result).
  WindowedStream& sideOutputLateData(const OutputTag<T>& tag) {
    settings_.late_data_tag = tag.id;
    return *this;
  }

  // fn(const T& accumulated, const T& next) -> T.
  template <typename F>
  DataStream<T> reduce(F fn) {
    return Build<T>(window_internal::MakeReduceFunction<T>(std::move(fn)), "reduce");
  }
  template <typename Out = void, typename F, typename WindowFn>
  auto reduce(F fn, WindowFn window_fn) {
    using O = typename ResultFunctionOutput<Out, WindowFn, T>::type;
    return Build<O>(window_internal::MakeReduceFunction<T>(
                        std::move(fn), window_internal::ResultWindowFunction<WindowFn>{window_fn}),
                    "reduce");
  }

  template <typename Agg>
  requires AggregateFunction<Agg, T> DataStream<typename Agg::Out> aggregate(Agg agg) {
    return Build<typename Agg::Out>(window_internal::MakeAggregateFunction(std::move(agg)),
                                    "aggregate");
  }
  template <typename Out = void, typename Agg, typename WindowFn>
  requires AggregateFunction<Agg, T>
  auto aggregate(Agg agg, WindowFn window_fn) {
    using O = typename ResultFunctionOutput<Out, WindowFn, typename Agg::Out>::type;
    return Build<O>(window_internal::MakeAggregateFunction(
                        std::move(agg), window_internal::ResultWindowFunction<WindowFn>{window_fn}),
                    "aggregate");
  }

  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::EmittedType<Out, F, 3>::type;
    return Build<O>(window_internal::MakeProcessFunction<T>(std::move(fn)), "process");
  }

  const Assigner& assigner() const { return assigner_; }
  const WindowSettings& settings() const { return settings_; }

 private:
  template <typename, typename, typename, typename>
  friend class WindowedStream;

  // The record type a window function over `R` emits: explicit, returned, or collected.
  template <typename Explicit, typename WindowFn, typename R>
  struct ResultFunctionOutput {
    using type = Explicit;
  };
  template <typename WindowFn, typename R>
  requires std::is_invocable_v<WindowFn&, const K&, const Window&, const R&>
  struct ResultFunctionOutput<void, WindowFn, R> {
    using type = std::decay_t<std::invoke_result_t<WindowFn&, const K&, const Window&, const R&>>;
  };
  template <typename WindowFn, typename R>
  requires(!std::is_invocable_v<WindowFn&, const K&, const Window&,
                                const R&>) struct ResultFunctionOutput<void, WindowFn, R>
      : detail::EmittedType<void, WindowFn, 3> {
  };

  template <typename Out, typename Function>
  DataStream<Out> Build(Function function, const char* what) {
    constexpr bool kSliced = Assigner::kSliceable && Assigner::kDefaultTrigger &&
                             Function::kIncremental && !Assigner::kMerging;
    auto key = input_.key_selector();
    auto assigner = assigner_;
    auto settings = settings_;
    OperatorFactory factory = [key, assigner, function,
                               settings]() -> std::unique_ptr<StreamOperatorBase> {
      if constexpr (kSliced) {
        if (assigner.slide() <= assigner.size()) {
          return std::make_unique<
              SlicingWindowOperator<K, T, Out, KeySelector, Assigner, Function>>(
              key, assigner, function, settings);
        }
      }
      return std::make_unique<WindowOperator<K, T, Out, KeySelector, Assigner, Function>>(
          key, assigner, function, settings);
    };
    DataStream<Out> out = input_.template transform<Out>("Window", std::move(factory));
    out.name("Window(" + assigner_.Describe() + ", " +
             window_internal::TriggerName<typename Assigner::Trigger>() + ", " + what + ")");
    return out;
  }

  KeyedStream<K, T, KeySelector> input_;
  Assigner assigner_;
  WindowSettings settings_;
};

}  // namespace brook
