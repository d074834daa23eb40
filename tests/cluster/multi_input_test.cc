// Two-input operators end to end on a MiniCluster: connect, keyed connect, the broadcast state
// pattern, interval joins, and watermarks across an idle input.
#include <gtest/gtest.h>

#include <brook/brook.h>
#include <map>
#include <set>

#include "brook/cluster/mini_cluster.h"

namespace brook {
namespace {

struct Order {
  int64_t user;
  int64_t item;
  Timestamp ts;
};
struct Price {
  int64_t item;
  int64_t cents;
};

GeneratorOptions Count(uint64_t n) {
  GeneratorOptions o;
  o.count = n;
  return o;
}

TEST(Connect, CoProcessSeesBothInputs) {
  StreamEnvironment env;
  env.setParallelism(2);
  auto out = std::make_shared<CollectedRecords<std::string>>();
  auto numbers = env.fromGenerator("numbers", [](uint64_t i) { return int64_t(i); }, Count(100));
  auto words = env.fromCollection(std::vector<std::string>{"x", "y", "z"});
  struct Tagger {
    void processElement1(const int64_t& v, ProcessContext&, Collector<std::string>& out) {
      out.collect("n" + std::to_string(v));
    }
    void processElement2(const std::string& w, ProcessContext&, Collector<std::string>& out) {
      out.collect("w" + w);
    }
  };
  numbers.connect(words).process(Tagger{}).sinkTo(CollectSink<std::string>(out));
  MiniCluster cluster;
  auto result = cluster.Execute(env.BuildJobGraph("connect"));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(out->size(), 103u);
}

// The catalog (item -> price) is broadcast to every subtask; orders keyed by user are enriched
// from it. Nothing orders the two inputs, so an order whose item is not in the catalog yet waits
// in keyed state and is retried when event time passes it (at the latest at the end of input,
// which comes after the whole catalog: the operator's watermark is the minimum of its inputs).
struct Enrich {
  using Out = std::pair<int64_t, int64_t>;
  MapStateDescriptor<int64_t, int64_t> prices{"prices"};
  ValueStateDescriptor<int64_t> spent{"spent"};
  ListStateDescriptor<Order> waiting{"waiting"};

  void processElement(const Order& o, KeyedBroadcastContext<int64_t>& ctx, Collector<Out>& out) {
    if (!TryApply(o, ctx, out)) {
      ctx.getListState(waiting).add(o);
      ctx.timerService().registerEventTimeTimer(o.ts);
    }
  }
  void onTimer(Timestamp, KeyedBroadcastContext<int64_t>& ctx, Collector<Out>& out) {
    auto& list = ctx.getListState(waiting);
    std::vector<Order> still;
    for (const Order& o : list.get())
      if (!TryApply(o, ctx, out)) still.push_back(o);
    list.update(still);
  }
  void processBroadcastElement(const Price& p, BroadcastContext& ctx, Collector<Out>&) {
    ctx.getBroadcastState(prices).put(p.item, p.cents);
  }

  bool TryApply(const Order& o, KeyedBroadcastContext<int64_t>& ctx, Collector<Out>& out) {
    auto price = ctx.getBroadcastState(prices).get(o.item);
    if (!price) return false;
    auto& total = ctx.getState(spent);
    total.update(total.valueOr(0) + *price);
    out.collect({o.user, *total.value()});
    return true;
  }
};

TEST(BroadcastState, KeyedStreamIsEnrichedFromABroadcastTable) {
  StreamEnvironment env;
  env.setParallelism(3);
  std::vector<Price> catalog;
  for (int64_t item = 0; item < 50; ++item) catalog.push_back({item, 100 + item});
  auto prices = env.fromCollection(catalog).setParallelism(1);
  auto orders = env.fromGenerator("orders", [](uint64_t i) {
    return Order{int64_t(i % 10), int64_t(i % 50), Timestamp(i)};
  }, Count(2000));
  auto totals = std::make_shared<CollectedRecords<std::pair<int64_t, int64_t>>>();
  MapStateDescriptor<int64_t, int64_t> kPrices{"prices"};
  orders.keyBy([](const Order& o) { return o.user; })
      .connect(prices.broadcast(kPrices))
      .process(Enrich{})
      .sinkTo(CollectSink<std::pair<int64_t, int64_t>>(totals));
  MiniCluster cluster;
  auto result = cluster.Execute(env.BuildJobGraph("broadcast"));
  ASSERT_TRUE(result.ok()) << result.error;
  std::map<int64_t, int64_t> final_total;
  for (auto [user, total] : totals->values()) final_total[user] = std::max(final_total[user], total);
  std::map<int64_t, int64_t> expected;
  for (int64_t i = 0; i < 2000; ++i) expected[i % 10] += 100 + i % 50;
  EXPECT_EQ(final_total, expected);
}

TEST(KeyedConnect, BothSidesShareTheKeysState) {
  StreamEnvironment env;
  env.setParallelism(2);
  auto left = env.fromGenerator("left", [](uint64_t i) { return int64_t(i % 20); }, Count(200));
  auto right = env.fromGenerator("right", [](uint64_t i) { return std::to_string(i % 20); }, Count(100));
  struct Counter2 {
    ValueStateDescriptor<int64_t> seen{"seen"};
    void processElement1(const int64_t&, KeyedProcessContext<int64_t>& ctx, Collector<std::pair<int64_t, int64_t>>& out) {
      Bump(ctx, out);
    }
    void processElement2(const std::string&, KeyedProcessContext<int64_t>& ctx, Collector<std::pair<int64_t, int64_t>>& out) {
      Bump(ctx, out);
    }
    void Bump(KeyedProcessContext<int64_t>& ctx, Collector<std::pair<int64_t, int64_t>>& out) {
      auto& s = ctx.getState(seen);
      s.update(s.valueOr(0) + 1);
      out.collect({ctx.getCurrentKey(), *s.value()});
    }
  };
  auto out = std::make_shared<CollectedRecords<std::pair<int64_t, int64_t>>>();
  left.keyBy([](const int64_t& v) { return v; })
      .connect(right.keyBy([](const std::string& s) { return int64_t(std::stoll(s)); }))
      .process(Counter2{})
      .sinkTo(CollectSink<std::pair<int64_t, int64_t>>(out));
  MiniCluster cluster;
  ASSERT_TRUE(cluster.Execute(env.BuildJobGraph("keyed-connect")).ok());
  std::map<int64_t, int64_t> last;
  for (auto [k, n] : out->values()) last[k] = std::max(last[k], n);
  ASSERT_EQ(last.size(), 20u);
  for (auto [k, n] : last) EXPECT_EQ(n, 15) << k;  // 10 from the left, 5 from the right
}

TEST(IntervalJoin, JoinsEachOrderWithThePaymentsWithinItsInterval) {
  StreamEnvironment env;
  env.setParallelism(2);
  // Orders of 20 users every 10 ms; payments for every second order, 0..30 ms after it.
  auto orders = env.fromGenerator("orders", [](uint64_t i) {
                      return Order{int64_t(i % 20), int64_t(i), Timestamp(i * 10)};
                    }, Count(400))
                    .assignTimestampsAndWatermarks(
                        WatermarkStrategy<Order>::forMonotonousTimestamps().withTimestampAssigner(
                            [](const Order& o) { return o.ts; }));
  auto payments = env.fromGenerator("payments", [](uint64_t j) {
                        uint64_t i = j * 2;
                        return Order{int64_t(i % 20), int64_t(i), Timestamp(i * 10 + int64_t(j % 4) * 10)};
                      }, Count(200))
                      .assignTimestampsAndWatermarks(
                          WatermarkStrategy<Order>::forBoundedOutOfOrderness(50).withTimestampAssigner(
                              [](const Order& o) { return o.ts; }));
  auto joined = std::make_shared<CollectedRecords<std::pair<int64_t, int64_t>>>();
  orders.keyBy([](const Order& o) { return o.user; })
      .intervalJoin(payments.keyBy([](const Order& p) { return p.user; }))
      .between(0, 20)
      .process([](const Order& o, const Order& p, IntervalJoinContext&,
                  Collector<std::pair<int64_t, int64_t>>& out) { out.collect({o.item, p.item}); })
      .sinkTo(CollectSink<std::pair<int64_t, int64_t>>(joined));
  MiniCluster cluster;
  auto result = cluster.Execute(env.BuildJobGraph("interval-join"));
  ASSERT_TRUE(result.ok()) << result.error;
  // Independently: order i (user i%20, t=10i) joins payment j (user 2j%20, t=20j+10(j%4)) when
  // same user and 0 <= t_p - t_o <= 20.
  std::multiset<std::pair<int64_t, int64_t>> expected;
  for (int64_t i = 0; i < 400; ++i)
    for (int64_t j = 0; j < 200; ++j) {
      int64_t to = 10 * i, tp = 20 * j + 10 * (j % 4);
      if (i % 20 == (2 * j) % 20 && tp - to >= 0 && tp - to <= 20) expected.insert({i, 2 * j});
    }
  auto got = joined->values();
  using Pairs = std::multiset<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(Pairs(got.begin(), got.end()), expected);
}

// A keyed process function emits the watermark it sees. One source is idle (its assigner marks
// it idle): the other's watermark still advances the operator.
TEST(EventTime, AnIdleSourceDoesNotHoldBackTheWatermark) {
  StreamEnvironment env;
  env.setParallelism(1);
  env.setAutoWatermarkInterval(5);
  auto busy_opts = Count(300);
  busy_opts.records_per_second = 1000;
  auto busy = env.fromGenerator("busy", [](uint64_t i) { return int64_t(i); }, busy_opts)
                  .assignTimestampsAndWatermarks(
                      WatermarkStrategy<int64_t>::forMonotonousTimestamps().withTimestampAssigner(
                          [](const int64_t& v) { return Timestamp(v); }));
  // A source that never ends and never emits.
  struct NeverEmits : SourceOperatorBase, WithOutput<int64_t> {
    void Open(RuntimeContext& c) override {
      SourceOperatorBase::Open(c);
      BindOutput(main_output_base());
    }
    SourceStatus EmitNext() override {
      return SourceStatus::NothingUntil(ProcessingTimeService::Now() + 50);
    }
  };
  auto quiet = env.fromSource<int64_t>("quiet", [] { return std::make_unique<NeverEmits>(); })
                   .assignTimestampsAndWatermarks(
                       WatermarkStrategy<int64_t>::forMonotonousTimestamps().withIdleness(50));
  auto seen = std::make_shared<std::atomic<int64_t>>(kMinWatermark);
  struct WatermarkProbe {
    std::shared_ptr<std::atomic<int64_t>> seen;
    void processElement(const int64_t&, KeyedProcessContext<int>& ctx, Collector<int64_t>&) {
      seen->store(ctx.timerService().currentWatermark());
    }
  };
  busy.unionWith(quiet)
      .keyBy([](const int64_t&) { return 0; })
      .process<int64_t>(WatermarkProbe{seen})
      .sinkTo([](const int64_t&) {});
  MiniCluster cluster;
  auto job = cluster.Submit(env.BuildJobGraph("idle"));
  // The busy source emits 300 records over ~0.3 s; the quiet one never ends, so cancel after.
  for (int i = 0; i < 100 && seen->load() < 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  job->Cancel();
  job->Wait();
  EXPECT_GE(seen->load(), 200) << "the idle source held the watermark back";
}

}  // namespace
}  // namespace brook

namespace brook {
namespace {

TEST(WindowJoin, PairsRecordsWithEqualKeysInTheSameWindow) {
  StreamEnvironment env;
  env.setParallelism(2);
  auto with_time = [](auto stream) {
    using T = typename decltype(stream)::value_type;
    return stream.assignTimestampsAndWatermarks(
        WatermarkStrategy<T>::forBoundedOutOfOrderness(0).withTimestampAssigner(
            [](const T& o) { return o.ts; }));
  };
  // Orders every 7 ms for 10 users; payments every 11 ms for 10 users.
  auto orders = with_time(env.fromGenerator("orders", [](uint64_t i) {
    return Order{int64_t(i % 10), int64_t(i), Timestamp(i * 7)};
  }, Count(300)));
  auto payments = with_time(env.fromGenerator("payments", [](uint64_t j) {
    return Order{int64_t(j % 10), int64_t(1000 + j), Timestamp(j * 11)};
  }, Count(200)));
  auto pairs = std::make_shared<CollectedRecords<std::pair<int64_t, int64_t>>>();
  orders.join(payments)
      .where([](const Order& o) { return o.user; })
      .equalTo([](const Order& p) { return p.user; })
      .window(TumblingEventTimeWindows::of(100))
      .apply([](const Order& o, const Order& p) { return std::make_pair(o.item, p.item); })
      .sinkTo(CollectSink<std::pair<int64_t, int64_t>>(pairs));
  MiniCluster cluster;
  auto result = cluster.Execute(env.BuildJobGraph("window-join"));
  ASSERT_TRUE(result.ok()) << result.error;
  std::multiset<std::pair<int64_t, int64_t>> expected;
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 200; ++j)
      if (i % 10 == j % 10 && (i * 7) / 100 == (j * 11) / 100) expected.insert({i, 1000 + j});
  auto got = pairs->values();
  using Pairs = std::multiset<std::pair<int64_t, int64_t>>;
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(Pairs(got.begin(), got.end()), expected);
}

}  // namespace
}  // namespace brook
