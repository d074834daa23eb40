// AsyncDataStream: Flink's entry point for async I/O. Adds an AsyncWaitOperator (see
// brook/operators/async_operator.h) after a stream:
//
//   auto enriched = brook::AsyncDataStream::orderedWait(
//       clicks,
//       [client](const Click& c, brook::ResultFuture<Profile> future) {
//         client->Get(c.user_id, [future](Profile p) { future.Complete({p}); });
//       },
//       std::chrono::milliseconds(50), /*capacity=*/100,
//       [](const Click& c) { return std::vector<Profile>{Profile::Unknown(c.user_id)}; });
//
// Out is deduced from fn's ResultFuture<Out> parameter when fn is not generic; give it
// explicitly otherwise: orderedWait<Profile>(...). Without a timeout_fn a timeout fails the job.
// The returned stream takes name()/uid()/setParallelism() like any other.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/jobs/data_stream.h"
#include "brook/jobs/function_traits.h"
#include "brook/jobs/stream_environment.h"
#include "brook/operators/async_operator.h"

namespace brook {

namespace detail {

template <typename P>
struct FutureElement {
  static_assert(sizeof(P) == 0, "the second parameter must be brook::ResultFuture<Out>");
};
template <typename T>
struct FutureElement<ResultFuture<T>> {
  using type = T;
};

// `Explicit` if given (not void), else the Out of fn's ResultFuture<Out> parameter.
template <typename Explicit, typename F>
struct AsyncResultType {
  using type = Explicit;
};
template <typename F>
struct AsyncResultType<void, F> {
  using type = typename FutureElement<
      std::remove_cvref_t<std::tuple_element_t<1, typename CallSignature<F>::Args>>>::type;
};

}  // namespace detail

class AsyncDataStream {
 public:
  // Fallback for a timed-out lookup: the records to emit instead.
  template <typename In, typename Out>
  using TimeoutFn = std::function<std::vector<Out>(const In&)>;

  // Results in input order. `capacity`: lookups in flight per subtask before the operator
  // waits. A timeout <= 0 disables timeouts.
  template <typename Out = void, typename T, typename F>
  static auto orderedWait(
      const DataStream<T>& in, F fn, std::chrono::milliseconds timeout, size_t capacity = 100,
      std::type_identity_t<TimeoutFn<T, typename detail::AsyncResultType<Out, F>::type>>
          timeout_fn = {}) {
    return Add<typename detail::AsyncResultType<Out, F>::type>(
        in, std::move(fn), AsyncOutputMode::kOrdered, timeout, capacity, std::move(timeout_fn));
  }

  // Results as they complete, never across a watermark.
  template <typename Out = void, typename T, typename F>
  static auto unorderedWait(
      const DataStream<T>& in, F fn, std::chrono::milliseconds timeout, size_t capacity = 100,
      std::type_identity_t<TimeoutFn<T, typename detail::AsyncResultType<Out, F>::type>>
          timeout_fn = {}) {
    return Add<typename detail::AsyncResultType<Out, F>::type>(
        in, std::move(fn), AsyncOutputMode::kUnordered, timeout, capacity,
        std::move(timeout_fn));
  }

 private:
  template <typename Out, typename T, typename F>
  static DataStream<Out> Add(const DataStream<T>& in, F fn, AsyncOutputMode mode,
                             std::chrono::milliseconds timeout, size_t capacity,
                             TimeoutFn<T, Out> timeout_fn) {
    if (capacity == 0) throw std::invalid_argument("async I/O: capacity must be at least 1");
    DataStream<T> input = in;
    return input.template transform<Out>(
        "Async", [fn = std::move(fn), mode, timeout, capacity, timeout_fn] {
          return std::make_unique<AsyncWaitOperator<T, Out, F>>(fn, mode, timeout, capacity,
                                                                timeout_fn);
        });
  }
};

}  // namespace brook
