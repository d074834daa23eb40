// The DataStream API: typed, fluent, shaped like Flink's (method names are Flink's).
//
//   env.fromGenerator("clicks", MakeClick, {.count = 1'000'000})
//      .filter([](const Click& c) { return c.valid; }).name("valid")
//      .keyBy([](const Click& c) { return c.user_id; })
//      .reduce([](const Click& a, const Click& b) { ... })
//      .sinkTo(brook::PrintSink<Click>());
//
// A stream is a handle into its environment's graph; the environment must outlive it. User
// functions are copied, once per subtask, when the job runs. Settings such as name(), uid() and
// setParallelism() apply to the operator that produced the stream.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/jobs/function_traits.h"
#include "brook/jobs/stream_graph.h"
#include "brook/operators/basic_operators.h"
#include "brook/operators/keyed_process_operator.h"
#include "brook/operators/keyed_reduce.h"
#include "brook/operators/process_operator.h"
#include "brook/operators/sinks.h"
#include "brook/operators/watermarks.h"
#include "brook/runtime/record_writer.h"

namespace brook {

template <typename K, typename T, typename KeySelector>
class KeyedStream;
// Defined in connected_streams.h and windowed_stream.h (included by brook.h).
template <typename A, typename B>
class ConnectedStreams;
template <typename K, typename A, typename B, typename KeyA, typename KeyB>
class KeyedConnectedStreams;
template <typename B, typename UK, typename UV>
class BroadcastStream;
template <typename K, typename A, typename KeyA, typename B>
class BroadcastConnectedStream;
template <typename K, typename A, typename B, typename KeyA, typename KeyB>
class IntervalJoin;
template <typename A, typename B>
class JoinedStreams;
template <typename K, typename T, typename KeySelector, typename Assigner>
class WindowedStream;
template <typename T>
class DataStreamSink;

namespace detail {
// One producer of a stream: an operator's main output or one of its side outputs, with the
// partitioner chosen for it (null: forward or rebalance, decided when the job graph is built).
struct StreamPort {
  NodeId node;
  std::string side_output_tag;
  std::shared_ptr<const PartitionerFactory> partitioner;
};

template <typename T>
std::shared_ptr<const PartitionerFactory> DefaultPartitioner(PartitionerFactory::Kind kind) {
  if (kind == PartitionerFactory::Kind::kForward) return std::make_shared<ForwardPartitioner<T>>();
  return std::make_shared<RebalancePartitioner<T>>();
}
}  // namespace detail

// Where streams are built; owns the graph. (Defined in stream_environment.h.)
class StreamEnvironment;
StreamGraph& GraphOf(StreamEnvironment& env);
int64_t AutoWatermarkIntervalOf(const StreamEnvironment& env);

template <typename T>
class DataStream {
 public:
  using value_type = T;

  DataStream(StreamEnvironment* env, std::vector<detail::StreamPort> ports,
             std::optional<NodeId> producer)
      : env_(env), ports_(std::move(ports)), producer_(producer) {}

  // --- transformations -------------------------------------------------------------------

  // fn(const T&) -> Out
  template <typename F>
  auto map(F fn) {
    using Out = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return Then<Out>("Map", [fn] { return std::make_unique<MapOperator<T, Out, F>>(fn); });
  }

  // fn(const T&) -> bool; keeps the records for which it is true.
  template <typename F>
  DataStream<T> filter(F fn) {
    return Then<T>("Filter", [fn] { return std::make_unique<FilterOperator<T, F>>(fn); });
  }

  // fn(const T&, Collector<Out>&) emits zero or more records. Out is deduced from a
  // non-generic function; give it explicitly otherwise: flatMap<Word>(fn).
  template <typename Out = void, typename F>
  auto flatMap(F fn) {
    using O = typename detail::EmittedType<Out, F, 1>::type;
    return Then<O>("FlatMap", [fn] { return std::make_unique<FlatMapOperator<T, O, F>>(fn); });
  }

  // fn(const T&, ProcessContext&, Collector<Out>&): records, timestamps and side outputs.
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::EmittedType<Out, F, 2>::type;
    return Then<O>("Process", [fn] { return std::make_unique<ProcessOperator<T, O, F>>(fn); });
  }

  // Gives records their event timestamps and the stream its watermarks.
  DataStream<T> assignTimestampsAndWatermarks(WatermarkStrategy<T> strategy) {
    int64_t interval = AutoWatermarkInterval();
    return Then<T>("Timestamps/Watermarks", [strategy, interval] {
      return std::make_unique<TimestampsAndWatermarksOperator<T>>(strategy, interval);
    });
  }

  // An operator made by `factory` (once per subtask) consuming this stream and producing Out:
  // how library code adds operators the API has no method for (Flink's transform).
  template <typename Out>
  DataStream<Out> transform(std::string kind, OperatorFactory factory) {
    return Then<Out>(std::move(kind), std::move(factory));
  }

  // Partitions by key(const T&): records with equal keys meet in the same subtask.
  template <typename KeySelector>
  auto keyBy(KeySelector key_selector) const {
    using K = std::decay_t<std::invoke_result_t<KeySelector&, const T&>>;
    auto partitioner = std::make_shared<HashPartitioner<T, KeySelector>>(key_selector);
    return KeyedStream<K, T, KeySelector>(env_, WithPartitioner(partitioner), key_selector);
  }

  // Round-robin over the downstream subtasks.
  DataStream<T> rebalance() const {
    return DataStream<T>(env_, WithPartitioner(std::make_shared<RebalancePartitioner<T>>()),
                         std::nullopt);
  }
  // Every record to every downstream subtask.
  DataStream<T> broadcast() const {
    return DataStream<T>(env_, WithPartitioner(std::make_shared<BroadcastPartitioner<T>>()),
                         std::nullopt);
  }
  // Every record to every subtask, filling the broadcast state `descriptor` there; connect it
  // to a keyed stream (the broadcast state pattern).
  template <typename UK, typename UV>
  BroadcastStream<T, UK, UV> broadcast(MapStateDescriptor<UK, UV> descriptor) const;

  // Joins this stream with `other` on equal keys within windows (window_join.h).
  template <typename B>
  JoinedStreams<T, B> join(const DataStream<B>& other) const;

  // Processes this stream and `other` in one operator with two inputs.
  template <typename B>
  ConnectedStreams<T, B> connect(const DataStream<B>& other) const;

  // Forward subtask i to subtask i; requires equal parallelism downstream.
  DataStream<T> forward() const {
    return DataStream<T>(env_, WithPartitioner(std::make_shared<ForwardPartitioner<T>>()),
                         std::nullopt);
  }

  // This stream and the others as one stream (Flink's union).
  template <typename... Others>
  DataStream<T> unionWith(const Others&... others) const {
    std::vector<detail::StreamPort> ports = ports_;
    (ports.insert(ports.end(), others.ports().begin(), others.ports().end()), ...);
    return DataStream<T>(env_, std::move(ports), std::nullopt);
  }

  // The records the producing process function sent to `tag`.
  template <typename S>
  DataStream<S> getSideOutput(const OutputTag<S>& tag) const {
    NodeId node = Producer("getSideOutput");
    return DataStream<S>(env_, {detail::StreamPort{node, tag.id, nullptr}}, std::nullopt);
  }

  // --- sinks --------------------------------------------------------------------------------

  // `sink` is called with each record (`void(const T&)`) or has writeBatch(const RecordBatch<T>&).
  template <typename Sink>
  DataStreamSink<T> sinkTo(Sink sink, std::string name = "Sink") {
    NodeId id = AddNode<void>("Sink", std::move(name),
                              [sink] { return std::make_unique<SinkOperator<T, Sink>>(sink); });
    return DataStreamSink<T>(env_, id);
  }
  // A sink that is an operator of its own, such as a two-phase-commit sink taking part in
  // checkpoints: .sinkToOperator("files", [dir] { return std::make_unique<ExactlyOnceFileSink<T>>(dir); })
  DataStreamSink<T> sinkToOperator(std::string name, OperatorFactory factory) {
    NodeId id = AddNode<void>("Sink", std::move(name), std::move(factory));
    return DataStreamSink<T>(env_, id);
  }
  DataStreamSink<T> print(std::string prefix = "") {
    return sinkTo(PrintSink<T>(std::move(prefix)), "Print");
  }

  // --- settings of the producing operator ----------------------------------------------

  DataStream<T>& name(std::string name) {
    Node("name").name = std::move(name);
    return *this;
  }
  DataStream<T>& uid(std::string uid) {
    Node("uid").uid = std::move(uid);
    return *this;
  }
  DataStream<T>& setParallelism(int parallelism) {
    Node("setParallelism").parallelism = parallelism;
    return *this;
  }
  DataStream<T>& setMaxParallelism(int max_parallelism) {
    Node("setMaxParallelism").max_parallelism = max_parallelism;
    return *this;
  }
  DataStream<T>& startNewChain() {
    Node("startNewChain").chaining = ChainingStrategy::kHead;
    return *this;
  }
  DataStream<T>& disableChaining() {
    Node("disableChaining").chaining = ChainingStrategy::kNever;
    return *this;
  }

  const std::vector<detail::StreamPort>& ports() const { return ports_; }
  StreamEnvironment* environment() const { return env_; }
  int64_t AutoWatermarkInterval() const { return AutoWatermarkIntervalOf(*env_); }

 protected:
  template <typename Out>
  DataStream<Out> Then(std::string kind, OperatorFactory factory) {
    NodeId id = AddNode<Out>(kind, kind, std::move(factory));
    return DataStream<Out>(env_, {detail::StreamPort{id, "", nullptr}}, id);
  }

  // Adds an operator consuming this stream; Out = void for sinks.
  template <typename Out>
  NodeId AddNode(std::string kind, std::string name, OperatorFactory factory) {
    StreamGraph& graph = GraphOf(*env_);
    StreamNode node;
    node.kind = std::move(kind);
    node.name = std::move(name);
    node.factory = std::move(factory);
    if constexpr (!std::is_void_v<Out>) node.output_type = TypeInfoFor<Out>();
    NodeId id = graph.AddNode(std::move(node)).id;
    for (const auto& port : ports_) {
      graph.AddEdge(StreamEdge{port.node, id, port.side_output_tag, TypeInfoFor<T>(),
                               port.partitioner, &detail::DefaultPartitioner<T>});
    }
    return id;
  }

  std::vector<detail::StreamPort> WithPartitioner(
      std::shared_ptr<const PartitionerFactory> partitioner) const {
    auto ports = ports_;
    for (auto& p : ports) p.partitioner = partitioner;
    return ports;
  }

 private:
  NodeId Producer(const char* what) const {
    if (!producer_)
      throw std::logic_error(std::string(what) +
                             "() applies to the stream of an operator, not to a union or a "
                             "repartitioned stream");
    return *producer_;
  }
  StreamNode& Node(const char* what) { return GraphOf(*env_).node(Producer(what)); }

  StreamEnvironment* env_;
  std::vector<detail::StreamPort> ports_;
  std::optional<NodeId> producer_;
};

// A stream partitioned by key. Operators applied to it receive, per subtask, exactly the keys
// of the key groups that subtask owns; reduce keeps state per key.
template <typename K, typename T, typename KeySelector>
class KeyedStream : public DataStream<T> {
 public:
  using key_type = K;

  KeyedStream(StreamEnvironment* env, std::vector<detail::StreamPort> ports, KeySelector key)
      : DataStream<T>(env, std::move(ports), std::nullopt), key_(std::move(key)) {}

  // A keyed process function: per-key state and timers (see keyed_process_operator.h).
  template <typename Out = void, typename F>
  auto process(F fn) {
    using O = typename detail::ProcessEmittedType<Out, F>::type;
    auto key = key_;
    return this->template Then<O>("KeyedProcess", [key, fn] {
      return std::make_unique<KeyedProcessOperator<K, T, O, KeySelector, F>>(key, fn);
    });
  }

  // fn(const T& accumulated, const T& next) -> T; emits the new accumulated value per record.
  template <typename F>
  DataStream<T> reduce(F fn) {
    auto key = key_;
    return this->template Then<T>("Reduce", [key, fn] {
      return std::make_unique<KeyedReduceOperator<K, T, KeySelector, F>>(key, fn);
    });
  }

  // Groups each key's records into windows (see windowed_stream.h and windows.h):
  //   keyed.window(TumblingEventTimeWindows::of(60'000)).aggregate(CountAggregate{})
  template <typename Assigner>
  WindowedStream<K, T, KeySelector, Assigner> window(Assigner assigner) {
    return WindowedStream<K, T, KeySelector, Assigner>(*this, std::move(assigner));
  }

  using DataStream<T>::connect;
  // The broadcast state pattern: this keyed stream reads what `broadcast` writes.
  template <typename B, typename UK, typename UV>
  BroadcastConnectedStream<K, T, KeySelector, B> connect(
      const BroadcastStream<B, UK, UV>& broadcast) const;
  // Two keyed streams with the same key type, sharing per-key state and timers.
  template <typename B, typename KeyB>
  KeyedConnectedStreams<K, T, B, KeySelector, KeyB> connect(
      const KeyedStream<K, B, KeyB>& other) const;
  // Joins each record with the other stream's records of the same key within a time interval.
  template <typename B, typename KeyB>
  IntervalJoin<K, T, B, KeySelector, KeyB> intervalJoin(const KeyedStream<K, B, KeyB>& other) const;

  const KeySelector& key_selector() const { return key_; }

 private:
  KeySelector key_;
};

template <typename T>
class DataStreamSink {
 public:
  DataStreamSink(StreamEnvironment* env, NodeId node) : env_(env), node_(node) {}
  DataStreamSink& name(std::string name) {
    GraphOf(*env_).node(node_).name = std::move(name);
    return *this;
  }
  DataStreamSink& uid(std::string uid) {
    GraphOf(*env_).node(node_).uid = std::move(uid);
    return *this;
  }
  DataStreamSink& setParallelism(int parallelism) {
    GraphOf(*env_).node(node_).parallelism = parallelism;
    return *this;
  }
  DataStreamSink& disableChaining() {
    GraphOf(*env_).node(node_).chaining = ChainingStrategy::kNever;
    return *this;
  }

 private:
  StreamEnvironment* env_;
  NodeId node_;
};

}  // namespace brook
