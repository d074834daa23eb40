// Finds the record type a user function emits through its `Collector<Out>&` parameter, so that
// flatMap and process need no explicit type argument for non-generic lambdas.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>

#include "brook/runtime/output.h"

namespace brook::detail {

template <typename F>
struct CallSignature : CallSignature<decltype(&std::decay_t<F>::operator())> {};
template <typename C, typename R, typename... A>
struct CallSignature<R (C::*)(A...) const> {
  using Args = std::tuple<A...>;
};
template <typename C, typename R, typename... A>
struct CallSignature<R (C::*)(A...)> {
  using Args = std::tuple<A...>;
};
template <typename R, typename... A>
struct CallSignature<R (*)(A...)> {
  using Args = std::tuple<A...>;
};

template <typename P>
struct CollectorElement {
  static_assert(sizeof(P) == 0, "this parameter must be brook::Collector<Out>&");
};
template <typename T>
struct CollectorElement<Collector<T>&> {
  using type = T;
};

// `Explicit` if given (not void), else the T of the function's Collector<T>& parameter `Index`.
template <typename Explicit, typename F, size_t Index>
struct EmittedType {
  using type = Explicit;
};
template <typename F, size_t Index>
struct EmittedType<void, F, Index> {
  using type = typename CollectorElement<
      std::tuple_element_t<Index, typename CallSignature<F>::Args>>::type;
};

// For process functions: explicit, else the function object's `using Out = ...;`, else the
// Collector<Out>& of its processElement(value, ctx, out) (or processElement1), else of a
// lambda's (value, ctx, out).
template <typename Explicit, typename F>
struct ProcessEmittedType : EmittedType<Explicit, F, 2> {};
template <typename F>
  requires requires { typename F::Out; }
struct ProcessEmittedType<void, F> {
  using type = typename F::Out;
};
template <typename F>
  requires(!requires { typename F::Out; } && requires { &F::processElement1; })
struct ProcessEmittedType<void, F> {
  using type = typename CollectorElement<
      std::tuple_element_t<2, typename CallSignature<decltype(&F::processElement1)>::Args>>::type;
};
template <typename F>
  requires(!requires { typename F::Out; } && requires { &F::processElement; })
struct ProcessEmittedType<void, F> {
  using type = typename CollectorElement<
      std::tuple_element_t<2, typename CallSignature<decltype(&F::processElement)>::Args>>::type;
};

}  // namespace brook::detail
