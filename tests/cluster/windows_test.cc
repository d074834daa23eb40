// Windowed jobs end to end on a MiniCluster at parallelism 2: generated clicks with event
// timestamps and bounded-out-of-orderness watermarks, keyed by item, counted in tumbling windows
// and summed in sliding windows, compared with the same windows computed here by hand. With no
// late records the results are deterministic. Run with both state backends.
#include <brook/brook.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "brook/cluster/mini_cluster.h"

namespace brook {
namespace {

struct Click {
  int64_t item;
  int64_t amount;
  int64_t ts;
};

// One result per item and window.
struct ItemWindow {
  int64_t item;
  int64_t window_end;
  int64_t value;
  auto operator<=>(const ItemWindow&) const = default;
};

constexpr uint64_t kClicks = 100'000;
constexpr int64_t kItems = 17;

uint64_t Mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  return x;
}

// Click i happens at about 2 ms * i, up to 40 ms out of order.
Click MakeClick(uint64_t i) {
  const uint64_t h = Mix(i + 1);
  return Click{int64_t(h % kItems), int64_t((h >> 8) % 10), int64_t(2 * i + (h >> 16) % 40)};
}

struct CountClicks {
  using Acc = int64_t;
  using Out = int64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const Click&, Acc& acc) const { ++acc; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};
struct SumAmounts {
  using Acc = int64_t;
  using Out = int64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const Click& c, Acc& acc) const { acc += c.amount; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};

std::vector<ItemWindow> Sorted(std::vector<ItemWindow> v) {
  std::sort(v.begin(), v.end());
  return v;
}

struct Results {
  std::vector<ItemWindow> tumbling_counts;
  std::vector<ItemWindow> sliding_sums;
};

// Tumbling 1 s counts and sliding 3 s / 1 s sums of the clicks, per item.
Results RunJob(const StateBackendConfig& backend) {
  StreamEnvironment env;
  env.setParallelism(2);
  env.setStateBackend(backend);
  auto counts = std::make_shared<CollectedRecords<ItemWindow>>();
  auto sums = std::make_shared<CollectedRecords<ItemWindow>>();
  GeneratorOptions options;
  options.count = kClicks;
  options.num_splits = 2;  // one split per source subtask: each reads its clicks in order
  auto clicks =
      env.fromGenerator(
             "clicks", [](uint64_t i) { return MakeClick(i); }, options)
          .assignTimestampsAndWatermarks(
              WatermarkStrategy<Click>::forBoundedOutOfOrderness(100).withTimestampAssigner(
                  [](const Click& c) { return c.ts; }));
  auto by_item = clicks.keyBy([](const Click& c) { return c.item; });
  by_item.window(TumblingEventTimeWindows::of(1000))
      .aggregate(CountClicks{},
                 [](const int64_t& item, const TimeWindow& w, const int64_t& n) {
                   return ItemWindow{item, w.end, n};
                 })
      .sinkTo(CollectSink<ItemWindow>(counts));
  by_item.window(SlidingEventTimeWindows::of(3000, 1000))
      .aggregate(SumAmounts{},
                 [](const int64_t& item, const TimeWindow& w, const int64_t& sum,
                    Collector<ItemWindow>& out) {
                   out.collect(ItemWindow{item, w.end, sum});
                 })
      .sinkTo(CollectSink<ItemWindow>(sums));
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("windows"));
  EXPECT_TRUE(result.ok()) << result.error;
  return {Sorted(counts->values()), Sorted(sums->values())};
}

// The same windows, computed directly from the clicks.
Results Expected() {
  std::map<std::pair<int64_t, int64_t>, int64_t> counts, sums;  // (item, window end) -> value
  for (uint64_t i = 0; i < kClicks; ++i) {
    const Click c = MakeClick(i);
    ++counts[{c.item, c.ts / 1000 * 1000 + 1000}];
    // The 3 s windows ending on a whole second after ts: ends ts/1000*1000 + 1000, +2000, +3000.
    for (int64_t k = 1; k <= 3; ++k) sums[{c.item, c.ts / 1000 * 1000 + k * 1000}] += c.amount;
  }
  Results r;
  for (const auto& [key, n] : counts) r.tumbling_counts.push_back({key.first, key.second, n});
  for (const auto& [key, s] : sums) r.sliding_sums.push_back({key.first, key.second, s});
  return r;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "brook-windows-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(WindowsOnMiniCluster, TumblingCountsAndSlidingSumsMatchADirectComputation) {
  const Results expected = Expected();
  // 200 full seconds for every item, and a few clicks in the 201st.
  ASSERT_GT(expected.tumbling_counts.size(), size_t(kItems) * 200);
  const Results got = RunJob(StateBackendConfig{});
  EXPECT_EQ(got.tumbling_counts, expected.tumbling_counts);
  EXPECT_EQ(got.sliding_sums, expected.sliding_sums);
}

TEST(WindowsOnMiniCluster, TheLmdbBackendGivesTheSameResults) {
  TempDir dir;
  const Results expected = Expected();
  const Results got = RunJob(StateBackendConfig{StateBackendKind::kLmdb, dir.path()});
  EXPECT_EQ(got.tumbling_counts, expected.tumbling_counts);
  EXPECT_EQ(got.sliding_sums, expected.sliding_sums);
}

// Records that come after the watermark passed their window reach the late side output, which
// getSideOutput() reads from the window operator's result. One record per batch and a
// watermark after each (interval 0), so lateness is deterministic:
//   ts 0, 1000, 2500 (watermark 2499: [0,1000) and [1000,2000) are done), 500 (late), 2600
// The source runs as one subtask: a second one, without clicks, would hold the watermark back
// until it ends.
TEST(WindowsOnMiniCluster, LateRecordsReachTheSideOutput) {
  const std::vector<int64_t> times = {0, 1000, 2500, 500, 2600};
  StreamEnvironment env;
  env.setParallelism(2);
  env.setAutoWatermarkInterval(0);
  GeneratorOptions options;
  options.count = times.size();
  options.num_splits = 1;
  options.batch_size = 1;
  auto counts = std::make_shared<CollectedRecords<ItemWindow>>();
  auto late = std::make_shared<CollectedRecords<Click>>();
  OutputTag<Click> late_tag("late-clicks");
  auto windowed =
      env.fromGenerator(
             "clicks",
             [times](uint64_t i) {
               return Click{7, 1, times[i]};
             },
             options)
          .setParallelism(1)
          .assignTimestampsAndWatermarks(
              WatermarkStrategy<Click>::forMonotonousTimestamps().withTimestampAssigner(
                  [](const Click& c) { return c.ts; }))
          .setParallelism(1)
          .keyBy([](const Click& c) { return c.item; })
          .window(TumblingEventTimeWindows::of(1000))
          .sideOutputLateData(late_tag)
          .aggregate(CountClicks{}, [](const int64_t& item, const TimeWindow& w, const int64_t& n) {
            return ItemWindow{item, w.end, n};
          });
  windowed.sinkTo(CollectSink<ItemWindow>(counts));
  windowed.getSideOutput(late_tag).sinkTo(CollectSink<Click>(late));
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("late"));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(Sorted(counts->values()),
            (std::vector<ItemWindow>{{7, 1000, 1}, {7, 2000, 1}, {7, 3000, 2}}));
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ(late->values()[0].ts, 500);
}

// reduce and process over tumbling windows, and GlobalWindows with a purging count trigger, all
// through the DataStream API. Item 3's clicks, counted three ways:
//   reduce (summing a count of 1 per click) and process (counting the elements) per 1 s window,
//   and windows of 50 clicks each (count trigger; the remainder never fires).
TEST(WindowsOnMiniCluster, ReduceProcessAndTriggersThroughTheApi) {
  StreamEnvironment env;
  env.setParallelism(2);
  auto reduced = std::make_shared<CollectedRecords<ItemWindow>>();
  auto processed = std::make_shared<CollectedRecords<ItemWindow>>();
  auto fifties = std::make_shared<CollectedRecords<int64_t>>();
  GeneratorOptions options;
  options.count = kClicks;
  options.num_splits = 2;
  auto item3 =
      env.fromGenerator(
             "clicks", [](uint64_t i) { return MakeClick(i); }, options)
          .assignTimestampsAndWatermarks(
              WatermarkStrategy<Click>::forBoundedOutOfOrderness(100).withTimestampAssigner(
                  [](const Click& c) { return c.ts; }))
          .filter([](const Click& c) { return c.item == 3; })
          .map([](const Click& c) {
            return Click{c.item, 1, c.ts};
          })
          .keyBy([](const Click& c) { return c.item; });
  item3.window(TumblingEventTimeWindows::of(1000))
      .reduce(
          [](const Click& a, const Click& b) {
            return Click{a.item, a.amount + b.amount, 0};
          },
          [](const int64_t& item, const TimeWindow& w, const Click& sum) {
            return ItemWindow{item, w.end, sum.amount};
          })
      .sinkTo(CollectSink<ItemWindow>(reduced));
  item3.window(TumblingEventTimeWindows::of(1000))
      .process([](const int64_t& item, const TimeWindow& w, const std::vector<Click>& clicks,
                  Collector<ItemWindow>& out) {
        out.collect(ItemWindow{item, w.end, int64_t(clicks.size())});
      })
      .sinkTo(CollectSink<ItemWindow>(processed));
  item3.window(GlobalWindows::create())
      .trigger(PurgingTrigger<CountTrigger>::of(CountTrigger::of(50)))
      .aggregate(CountClicks{})
      .sinkTo(CollectSink<int64_t>(fifties));
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("api"));
  ASSERT_TRUE(result.ok()) << result.error;

  std::vector<ItemWindow> expected;
  int64_t item3_clicks = 0;
  for (const ItemWindow& w : Expected().tumbling_counts) {
    if (w.item != 3) continue;
    expected.push_back(w);
    item3_clicks += w.value;
  }
  EXPECT_EQ(Sorted(reduced->values()), expected);
  EXPECT_EQ(Sorted(processed->values()), expected);
  EXPECT_EQ(fifties->values(), std::vector<int64_t>(size_t(item3_clicks / 50), 50));
}

}  // namespace
}  // namespace brook
