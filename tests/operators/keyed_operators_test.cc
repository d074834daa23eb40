#include <gtest/gtest.h>

#include <string>

#include "brook/operators/dedup.h"
#include "brook/operators/keyed_process_operator.h"
#include "brook/operators/watermarks.h"
#include "brook/runtime/state/state_backends.h"
#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using testing::OperatorHarness;

struct Event {
  std::string key;
  Timestamp ts;
};

// Registers an event-time timer 10 ms after each record (twice, to check de-duplication) and a
// line per firing.
struct TimerEcho {
  using Out = std::string;
  void processElement(const Event& e, KeyedProcessContext<std::string>& ctx,
                      Collector<std::string>& out) {
    ctx.timerService().registerEventTimeTimer(e.ts + 10);
    ctx.timerService().registerEventTimeTimer(e.ts + 10);
    auto& count = ctx.getState(count_);
    count.update(count.valueOr(0) + 1);
    out.collect("saw " + e.key);
  }
  void onTimer(Timestamp time, KeyedProcessContext<std::string>& ctx, Collector<std::string>& out) {
    out.collect(ctx.getCurrentKey() + "@" + std::to_string(time) + " count " +
                std::to_string(ctx.getState(count_).valueOr(0)));
  }
  ValueStateDescriptor<int> count_{"count"};
};

auto KeyOf = [](const Event& e) { return e.key; };
using TimerEchoOp =
    KeyedProcessOperator<std::string, Event, std::string, decltype(KeyOf), TimerEcho>;

TEST(KeyedProcessOperator, EventTimersFireOnceInOrderWhenTheWatermarkReachesThem) {
  OperatorHarness<std::string> h(std::make_unique<TimerEchoOp>(KeyOf, TimerEcho{}));
  h.Open();
  h.Process<Event>({{{"a", 5}, 5}, {{"b", 3}, 3}, {{"a", 5}, 5}});
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"saw a", "saw b", "saw a"}));
  h.output.values.clear();
  h.op->ProcessWatermark(Watermark{12});
  EXPECT_TRUE(h.output.values.empty());  // b's timer is at 13, a's at 15
  h.op->ProcessWatermark(Watermark{13});
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"b@13 count 1"}));
  h.op->ProcessWatermark(Watermark{100});
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"b@13 count 1", "a@15 count 2"}));
  h.op->ProcessWatermark(Watermark{200});
  EXPECT_EQ(h.output.values.size(), 2u);  // each timer fired once
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{12, 13, 100, 200}));
  EXPECT_EQ(h.output.records[3].timestamp, 13);  // event-time firings carry their time
  h.op->Close();
}

TEST(KeyedProcessOperator, ProcessingTimeTimersFireFromTheTaskClock) {
  auto fn = [](const Event& e, KeyedProcessContext<std::string>& ctx, Collector<std::string>& out) {
    ctx.timerService().registerProcessingTimeTimer(1000 + e.ts);
    out.collect("saw " + e.key);
  };
  struct WithTimer {
    decltype(fn) f;
    void processElement(const Event& e, KeyedProcessContext<std::string>& ctx,
                        Collector<std::string>& out) {
      f(e, ctx, out);
    }
    void onTimer(Timestamp t, KeyedProcessContext<std::string>& ctx, Collector<std::string>& out) {
      EXPECT_EQ(ctx.timeDomain(), TimeDomain::kProcessingTime);
      out.collect(ctx.getCurrentKey() + "@" + std::to_string(t));
    }
  };
  OperatorHarness<std::string> h(
      std::make_unique<KeyedProcessOperator<std::string, Event, std::string, decltype(KeyOf),
                                            WithTimer>>(KeyOf, WithTimer{fn}));
  h.Open();
  h.Process<Event>({{{"x", 2}, 0}, {{"y", 1}, 0}});
  h.timers.FireDue(1001);
  EXPECT_EQ(h.output.values.back(), "y@1001");
  h.timers.FireDue(5000);
  EXPECT_EQ(h.output.values.back(), "x@1002");
  EXPECT_EQ(h.output.values.size(), 4u);
  h.op->Close();
}

TEST(KeepFirst, DropsEveryDuplicateAndNoOriginal) {
  auto id = [](const int& v) { return v % 1000; };
  using Op = KeyedProcessOperator<int, int, int, decltype(id), KeepFirst<int>>;
  OperatorHarness<int> h(std::make_unique<Op>(id, KeepFirst<int>()));
  h.Open();
  std::vector<StreamRecord<int>> input;
  for (int i = 0; i < 5000; ++i) input.push_back({i, i});  // ids 0..999, five times each
  h.Process<int>(input);
  ASSERT_EQ(h.output.values.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(h.output.values[size_t(i)], i);  // the first of each
  h.op->Close();
}

TEST(KeepFirst, ForgetsIdsAfterTheirTimeToLive) {
  auto id = [](const int& v) { return v; };
  using Op = KeyedProcessOperator<int, int, int, decltype(id), KeepFirst<int>>;
  OperatorHarness<int> h(std::make_unique<Op>(id, KeepFirst<int>(StateTtlConfig::EventTime(100))));
  h.Open();
  h.op->ProcessWatermark(Watermark{0});
  h.Process<int>({{7, 0}, {7, 50}});
  EXPECT_EQ(h.output.values.size(), 1u);
  h.op->ProcessWatermark(Watermark{150});  // id 7 was stored at watermark 0: expired at 100
  h.Process<int>({{7, 160}});
  EXPECT_EQ(h.output.values.size(), 2u);
  h.op->Close();
}

TEST(TimestampsAndWatermarks, BoundedOutOfOrdernessTrailsTheMaximumTimestamp) {
  WatermarkStrategy<Event> strategy =
      WatermarkStrategy<Event>::forBoundedOutOfOrderness(10).withTimestampAssigner(
          [](const Event& e) { return e.ts; });
  OperatorHarness<Event> h(std::make_unique<TimestampsAndWatermarksOperator<Event>>(strategy, 0));
  h.Open();
  h.Process<Event>({{{"a", 100}, kNoTimestamp}, {{"a", 90}, kNoTimestamp}, {{"a", 120}, kNoTimestamp}});
  EXPECT_EQ(h.output.records[1].timestamp, 90);
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{109}));
  h.Process<Event>({{{"a", 105}, kNoTimestamp}});
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{109}));  // never backwards
  h.op->ProcessWatermark(Watermark{50});  // upstream watermarks are ignored...
  h.op->ProcessWatermark(Watermark{kMaxWatermark});  // ...except the end of input
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{109, kMaxWatermark}));
}

TEST(TimestampsAndWatermarks, GoesIdleWithoutRecordsAndActiveWhenTheyReturn) {
  auto strategy = WatermarkStrategy<Event>::forMonotonousTimestamps()
                      .withTimestampAssigner([](const Event& e) { return e.ts; })
                      .withIdleness(20);
  OperatorHarness<Event> h(std::make_unique<TimestampsAndWatermarksOperator<Event>>(strategy, 200));
  h.Open();
  h.Process<Event>({{{"a", 1}, 0}});
  h.timers.FireDue(ProcessingTimeService::Now() + 25);  // past the 20 ms idleness timeout
  EXPECT_EQ(h.output.statuses, (std::vector<bool>{true}));
  h.Process<Event>({{{"a", 2}, 0}});
  EXPECT_EQ(h.output.statuses, (std::vector<bool>{true, false}));
}

struct EveryThird : WatermarkGenerator<Event> {
  Timestamp wm = kMinWatermark;
  int n = 0;
  void onEvent(const Event& e, Timestamp ts) override {
    if (++n % 3 == 0) wm = ts;
    (void)e;
  }
  Timestamp currentWatermark() override { return wm; }
};

TEST(TimestampsAndWatermarks, UsesACustomGenerator) {
  auto strategy = WatermarkStrategy<Event>::forGenerator([] { return std::make_unique<EveryThird>(); })
                      .withTimestampAssigner([](const Event& e) { return e.ts; });
  OperatorHarness<Event> h(std::make_unique<TimestampsAndWatermarksOperator<Event>>(strategy, 0));
  h.Open();
  h.Process<Event>({{{"a", 10}, 0}, {{"a", 20}, 0}});
  EXPECT_TRUE(h.output.watermarks.empty());
  h.Process<Event>({{{"a", 30}, 0}});
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{30}));
}

}  // namespace
}  // namespace brook
