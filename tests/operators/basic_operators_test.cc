#include "brook/operators/basic_operators.h"

#include <gtest/gtest.h>

#include "brook/operators/keyed_reduce.h"
#include "brook/operators/process_operator.h"
#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using testing::OperatorHarness;

TEST(FilterOperator, KeepsMatchingRecordsInOrderWithTheirTimestamps) {
  auto even = [](const int& v) { return v % 2 == 0; };
  OperatorHarness<int> h(std::make_unique<FilterOperator<int, decltype(even)>>(even));
  h.Open();
  h.Process<int>({{1, 10}, {2, 20}, {3, 30}, {4, 40}});
  ASSERT_EQ(h.output.records.size(), 2u);
  EXPECT_EQ(h.output.records[0].value, 2);
  EXPECT_EQ(h.output.records[0].timestamp, 20);
  EXPECT_EQ(h.output.records[1].value, 4);
  h.Process<int>({{1, 0}, {3, 0}});
  EXPECT_EQ(h.output.batches, 1);  // an all-filtered batch sends nothing
}

TEST(MapOperator, MapsToAnotherTypeKeepingTimestamps) {
  auto fn = [](const int& v) { return std::to_string(v * 2); };
  OperatorHarness<std::string> h(std::make_unique<MapOperator<int, std::string, decltype(fn)>>(fn));
  h.Open();
  h.Process<int>({{1, 5}, {21, 6}});
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"2", "42"}));
  EXPECT_EQ(h.output.records[1].timestamp, 6);
}

struct RichIncrement {
  int base = 0;
  bool* closed;
  void open(const RuntimeContext& ctx) { base = 100 * (ctx.subtask_index + 1); }
  void close() { *closed = true; }
  int operator()(const int& v) const { return base + v; }
};

TEST(MapOperator, CallsOpenAndCloseOfRichFunctions) {
  bool closed = false;
  OperatorHarness<int> h(
      std::make_unique<MapOperator<int, int, RichIncrement>>(RichIncrement{0, &closed}), 1, 2);
  h.Open();
  h.Process<int>({{1, 0}});
  EXPECT_EQ(h.output.values, (std::vector<int>{201}));
  h.op->Close();
  EXPECT_TRUE(closed);
}

TEST(FlatMapOperator, EmitsZeroOrMoreRecordsStampedWithTheInputTime) {
  auto split = [](const std::string& line, Collector<std::string>& out) {
    size_t start = 0;
    while (start < line.size()) {
      size_t end = line.find(' ', start);
      if (end == std::string::npos) end = line.size();
      if (end > start) out.collect(line.substr(start, end - start));
      start = end + 1;
    }
  };
  OperatorHarness<std::string> h(
      std::make_unique<FlatMapOperator<std::string, std::string, decltype(split)>>(split));
  h.Open();
  h.Process<std::string>({{"a b", 1}, {"", 2}, {"c", 3}});
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(h.output.records[1].timestamp, 1);
  EXPECT_EQ(h.output.records[2].timestamp, 3);
}

TEST(ProcessOperator, SendsToSideOutputsAndDropsUnconsumedOnes) {
  OutputTag<std::string> odd("odd");
  OutputTag<int> unused("unused");
  auto fn = [odd, unused](const int& v, ProcessContext& ctx, Collector<int>& out) {
    if (v % 2) ctx.output(odd, "odd " + std::to_string(v));
    else out.collect(v);
    ctx.output(unused, v);
  };
  OperatorHarness<int> h(std::make_unique<ProcessOperator<int, int, decltype(fn)>>(fn));
  testing::CollectingOutput<std::string> side;
  h.op->AddSideOutput("odd", &side);
  h.Open();
  h.Process<int>({{1, 7}, {2, 8}, {3, 9}});
  EXPECT_EQ(h.output.values, (std::vector<int>{2}));
  EXPECT_EQ(side.values, (std::vector<std::string>{"odd 1", "odd 3"}));
  EXPECT_EQ(side.records[1].timestamp, 9);
}

TEST(ProcessOperator, ForwardsWatermarksToSideOutputsToo) {
  auto fn = [](const int& v, ProcessContext&, Collector<int>& out) { out.collect(v); };
  OperatorHarness<int> h(std::make_unique<ProcessOperator<int, int, decltype(fn)>>(fn));
  testing::CollectingOutput<std::string> side;
  h.op->AddSideOutput("late", &side);
  h.Open();
  h.op->ProcessWatermark(Watermark{42});
  EXPECT_EQ(h.output.watermarks, (std::vector<Timestamp>{42}));
  EXPECT_EQ(side.watermarks, (std::vector<Timestamp>{42}));
}

TEST(KeyedReduceOperator, EmitsTheRunningValuePerKey) {
  using Pair = std::pair<std::string, int>;
  auto key = [](const Pair& p) { return p.first; };
  auto sum = [](const Pair& a, const Pair& b) { return Pair{a.first, a.second + b.second}; };
  OperatorHarness<Pair> h(
      std::make_unique<KeyedReduceOperator<std::string, Pair, decltype(key), decltype(sum)>>(key,
                                                                                             sum));
  h.Open();
  h.Process<Pair>({{{"a", 1}, 0}, {{"b", 5}, 0}, {{"a", 2}, 0}, {{"a", 3}, 0}});
  EXPECT_EQ(h.output.values,
            (std::vector<Pair>{{"a", 1}, {"b", 5}, {"a", 3}, {"a", 6}}));
}

}  // namespace
}  // namespace brook
