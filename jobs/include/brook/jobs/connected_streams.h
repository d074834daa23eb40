// Two streams processed together (Flink's connect), the broadcast state pattern, and interval
// joins:
//
//   a.connect(b).process(CoFn{})                               // two inputs, no keys
//   a.keyBy(ka).connect(b.keyBy(kb)).process(KeyedCoFn{})      // shared per-key state, timers
//   clicks.keyBy(user).connect(catalog.broadcast(kCatalog)).process(Enrich{})
//   left.keyBy(k).intervalJoin(right.keyBy(k)).between(-5'000, 5'000).process(fn)
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "brook/jobs/data_stream.h"
#include "brook/operators/co_process_operator.h"
#include "brook/operators/interval_join.h"

namespace brook {

namespace detail {
// Adds an operator reading `first` as its input 0 and `second` as its input 1.
template <typename Out, typename A, typename B>
DataStream<Out> AddTwoInputNode(const DataStream<A>& first, const DataStream<B>& second,
                                std::string kind, OperatorFactory factory) {
  StreamEnvironment* env = first.environment();
  StreamGraph& graph = GraphOf(*env);
  StreamNode node;
  node.kind = kind;
  node.name = std::move(kind);
  node.factory = std::move(factory);
  node.output_type = TypeInfoFor<Out>();
  NodeId id = graph.AddNode(std::move(node)).id;
  for (const auto& port : first.ports())
    graph.AddEdge(StreamEdge{port.node, id, port.side_output_tag, TypeInfoFor<A>(),
                             port.partitioner, &DefaultPartitioner<A>, 0});
  for (const auto& port : second.ports())
    graph.AddEdge(StreamEdge{port.node, id, port.side_output_tag, TypeInfoFor<B>(),
                             port.partitioner, &DefaultPartitioner<B>, 1});
  return DataStream<Out>(env, {StreamPort{id, "", nullptr}}, id);
}
}  // namespace detail

template <typename A, typename B>
class ConnectedStreams {
 public:
  ConnectedStreams(DataStream<A> first, DataStream<B> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  // fn.processElement1(const A&, ProcessContext&, Collector<Out>&), and ...2 for B.
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::ProcessEmittedType<Out, F>::type;
    return detail::AddTwoInputNode<O>(first_, second_, "CoProcess", [fn] {
      return std::make_unique<CoProcessOperator<A, B, O, F>>(fn);
    });
  }

 private:
  DataStream<A> first_;
  DataStream<B> second_;
};

template <typename K, typename A, typename B, typename KeyA, typename KeyB>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(KeyedStream<K, A, KeyA> first, KeyedStream<K, B, KeyB> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  // fn.processElement1(const A&, KeyedProcessContext<K>&, Collector<Out>&), ...2 for B, and
  // optionally onTimer(Timestamp, KeyedProcessContext<K>&, Collector<Out>&).
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::ProcessEmittedType<Out, F>::type;
    auto ka = first_.key_selector();
    auto kb = second_.key_selector();
    return detail::AddTwoInputNode<O>(first_, second_, "KeyedCoProcess", [ka, kb, fn] {
      return std::make_unique<KeyedCoProcessOperator<K, A, B, O, KeyA, KeyB, F>>(ka, kb, fn);
    });
  }

 private:
  KeyedStream<K, A, KeyA> first_;
  KeyedStream<K, B, KeyB> second_;
};

// A stream sent to every subtask of the operator it connects to, with the broadcast state it
// fills there.
template <typename B, typename UK, typename UV>
class BroadcastStream {
 public:
  BroadcastStream(DataStream<B> stream, MapStateDescriptor<UK, UV> descriptor)
      : stream_(std::move(stream)), descriptor_(std::move(descriptor)) {}
  const DataStream<B>& stream() const { return stream_; }
  const MapStateDescriptor<UK, UV>& descriptor() const { return descriptor_; }

 private:
  DataStream<B> stream_;
  MapStateDescriptor<UK, UV> descriptor_;
};

template <typename K, typename A, typename KeyA, typename B>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(KeyedStream<K, A, KeyA> keyed, DataStream<B> broadcast)
      : keyed_(std::move(keyed)), broadcast_(std::move(broadcast)) {}

  // fn.processElement(const A&, KeyedBroadcastContext<K>&, Collector<Out>&) and
  // fn.processBroadcastElement(const B&, BroadcastContext&, Collector<Out>&).
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::ProcessEmittedType<Out, F>::type;
    auto ka = keyed_.key_selector();
    return detail::AddTwoInputNode<O>(keyed_, broadcast_, "KeyedBroadcastProcess", [ka, fn] {
      return std::make_unique<KeyedBroadcastProcessOperator<K, A, B, O, KeyA, F>>(ka, fn);
    });
  }

 private:
  KeyedStream<K, A, KeyA> keyed_;
  DataStream<B> broadcast_;
};

template <typename K, typename A, typename B, typename KeyA, typename KeyB>
class IntervalJoin {
 public:
  IntervalJoin(KeyedStream<K, A, KeyA> left, KeyedStream<K, B, KeyB> right)
      : left_(std::move(left)), right_(std::move(right)) {}

  // Joins a with every b whose time is in [a.ts + lower_ms, a.ts + upper_ms].
  IntervalJoin& between(int64_t lower_ms, int64_t upper_ms) {
    if (lower_ms > upper_ms) throw std::invalid_argument("intervalJoin: lower bound > upper bound");
    lower_ = lower_ms;
    upper_ = upper_ms;
    return *this;
  }

  // fn(const A&, const B&, IntervalJoinContext&, Collector<Out>&).
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::EmittedType<Out, F, 3>::type;
    auto ka = left_.key_selector();
    auto kb = right_.key_selector();
    int64_t lower = lower_, upper = upper_;
    return detail::AddTwoInputNode<O>(left_, right_, "IntervalJoin", [=] {
      return std::make_unique<IntervalJoinOperator<K, A, B, O, KeyA, KeyB, F>>(ka, kb, lower,
                                                                              upper, fn);
    });
  }

 private:
  KeyedStream<K, A, KeyA> left_;
  KeyedStream<K, B, KeyB> right_;
  int64_t lower_ = 0;
  int64_t upper_ = 0;
};

// --- the DataStream and KeyedStream methods that lead here --------------------------------

template <typename T>
template <typename B>
ConnectedStreams<T, B> DataStream<T>::connect(const DataStream<B>& other) const {
  return ConnectedStreams<T, B>(*this, other);
}

template <typename T>
template <typename UK, typename UV>
BroadcastStream<T, UK, UV> DataStream<T>::broadcast(MapStateDescriptor<UK, UV> descriptor) const {
  return BroadcastStream<T, UK, UV>(broadcast(), std::move(descriptor));
}

template <typename K, typename T, typename KeySelector>
template <typename B, typename UK, typename UV>
BroadcastConnectedStream<K, T, KeySelector, B> KeyedStream<K, T, KeySelector>::connect(
    const BroadcastStream<B, UK, UV>& broadcast) const {
  return BroadcastConnectedStream<K, T, KeySelector, B>(*this, broadcast.stream());
}

template <typename K, typename T, typename KeySelector>
template <typename B, typename KeyB>
KeyedConnectedStreams<K, T, B, KeySelector, KeyB> KeyedStream<K, T, KeySelector>::connect(
    const KeyedStream<K, B, KeyB>& other) const {
  return KeyedConnectedStreams<K, T, B, KeySelector, KeyB>(*this, other);
}

template <typename K, typename T, typename KeySelector>
template <typename B, typename KeyB>
IntervalJoin<K, T, B, KeySelector, KeyB> KeyedStream<K, T, KeySelector>::intervalJoin(
    const KeyedStream<K, B, KeyB>& other) const {
  return IntervalJoin<K, T, B, KeySelector, KeyB>(*this, other);
}

}  // namespace brook
