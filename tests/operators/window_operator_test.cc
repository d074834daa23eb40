// The window operators driven directly: records, watermarks and processing time by hand, results
// checked against values worked out in the comments. Most tests run against both keyed state
// backends (in memory and LMDB).
#include "brook/operators/window_operator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "brook/operators/window_slicing_operator.h"
#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using testing::OperatorHarness;
using window_internal::MakeAggregateFunction;
using window_internal::MakeProcessFunction;
using window_internal::MakeReduceFunction;
using window_internal::ResultWindowFunction;

// Records are (key, value); each test gives their timestamps.
using Rec = std::pair<std::string, int64_t>;
// A window result: key, window end, value.
using Result = std::tuple<std::string, int64_t, int64_t>;

struct KeyOf {
  std::string operator()(const Rec& r) const { return r.first; }
};
struct SumReduce {
  Rec operator()(const Rec& a, const Rec& b) const { return {a.first, a.second + b.second}; }
};
struct CountAgg {
  using Acc = int64_t;
  using Out = int64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const Rec&, Acc& acc) const { ++acc; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};
struct SumAgg {
  using Acc = int64_t;
  using Out = int64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const Rec& r, Acc& acc) const { acc += r.second; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};
// Window functions giving every kind of window function the same Result.
struct WithWindowEnd {
  template <typename W>
  Result operator()(const std::string& key, const W& w, const int64_t& n) const {
    return {key, WindowEnd(w), n};
  }
  template <typename W>
  Result operator()(const std::string& key, const W& w, const Rec& r) const {
    return {key, WindowEnd(w), r.second};
  }
  static int64_t WindowEnd(const TimeWindow& w) { return w.end; }
  static int64_t WindowEnd(const GlobalWindow&) { return -1; }
};
struct SumElements {
  template <typename W>
  void operator()(const std::string& key, const W& w, const std::vector<Rec>& elements,
                  Collector<Result>& out) const {
    int64_t sum = 0;
    for (const Rec& r : elements) sum += r.second;
    out.collect({key, WithWindowEnd::WindowEnd(w), sum});
  }
};
// Lists a window's values in order: "a [1,24): 1 11 12 14".
struct ListValues {
  void operator()(const std::string& key, const TimeWindow& w, const std::vector<Rec>& elements,
                  Collector<std::string>& out) const {
    std::vector<int64_t> values;
    for (const Rec& r : elements) values.push_back(r.second);
    std::sort(values.begin(), values.end());
    std::string text = key + " [" + std::to_string(w.start) + "," + std::to_string(w.end) + "):";
    for (int64_t v : values) text += " " + std::to_string(v);
    out.collect(text);
  }
};

auto CountFn() { return MakeAggregateFunction(CountAgg{}, ResultWindowFunction<WithWindowEnd>{}); }
auto SumAggFn() { return MakeAggregateFunction(SumAgg{}, ResultWindowFunction<WithWindowEnd>{}); }
auto SumReduceFn() {
  return MakeReduceFunction<Rec>(SumReduce{}, ResultWindowFunction<WithWindowEnd>{});
}
auto SumProcessFn() { return MakeProcessFunction<Rec>(SumElements{}); }

template <typename Out, typename Assigner, typename Function>
auto Sliced(Assigner assigner, Function fn, WindowSettings settings = {}) {
  return std::make_unique<SlicingWindowOperator<std::string, Rec, Out, KeyOf, Assigner, Function>>(
      KeyOf{}, assigner, fn, settings);
}
template <typename Out, typename Assigner, typename Function>
auto General(Assigner assigner, Function fn, WindowSettings settings = {}) {
  return std::make_unique<WindowOperator<std::string, Rec, Out, KeyOf, Assigner, Function>>(
      KeyOf{}, assigner, fn, settings);
}

// A directory of its own per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "brook-window-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The state backends the tests run on: in memory, LMDB, and LMDB with a write-back cache of 2
// entries, so window contents are evicted, written back and reloaded between records.
struct Backend {
  StateBackendKind kind;
  size_t lmdb_cache_entries;
  const char* name;
};
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// A window operator in a harness, opened on the chosen backend, closed at the end; its late
// side output is collected in `late`.
template <typename Out>
class Running {
 public:
  template <typename Op>
  Running(std::unique_ptr<Op> op, const Backend& backend, const std::string& dir, int scope)
      : dropped_([p = op.get()] { return p->num_late_records_dropped(); }),
        h_(std::make_unique<OperatorHarness<Out>>(std::move(op))) {
    h_->context.state_backend.kind = backend.kind;
    h_->context.state_backend.lmdb_cache_entries = backend.lmdb_cache_entries;
    h_->context.state_backend.lmdb_directory = dir;
    h_->context.state_backend.lmdb_map_size = size_t{1} << 30;
    h_->context.state_scope = "window-op-" + std::to_string(scope);
    h_->op->AddSideOutput("late", &late);
    h_->Open();
  }
  ~Running() { h_->op->Close(); }

  // Records given as (key, value, timestamp), in one batch.
  void Send(const std::vector<std::tuple<std::string, int64_t, Timestamp>>& records) {
    std::vector<StreamRecord<Rec>> batch;
    for (const auto& [k, v, ts] : records) batch.push_back({{k, v}, ts});
    h_->template Process<Rec>(std::move(batch));
  }
  void Watermark(Timestamp t) { h_->op->ProcessWatermark(brook::Watermark{t}); }
  void FireProcessingTimers(Timestamp now) { h_->timers.FireDue(now); }
  // What was emitted since the last call.
  std::vector<Out> Take() {
    h_->output.records.clear();
    return std::exchange(h_->output.values, {});
  }
  const std::vector<StreamRecord<Out>>& records() const { return h_->output.records; }
  const std::vector<Timestamp>& watermarks() const { return h_->output.watermarks; }
  int64_t dropped() const { return dropped_(); }

  testing::CollectingOutput<Rec> late;

 private:
  std::function<int64_t()> dropped_;
  std::unique_ptr<OperatorHarness<Out>> h_;
};

WindowSettings Lateness(int64_t ms, std::string late_tag = "") {
  WindowSettings s;
  s.allowed_lateness_ms = ms;
  s.late_data_tag = std::move(late_tag);
  return s;
}

class WindowOperatorTest : public ::testing::TestWithParam<Backend> {
 protected:
  template <typename Out, typename Op>
  std::unique_ptr<Running<Out>> Run(std::unique_ptr<Op> op) {
    return std::make_unique<Running<Out>>(std::move(op), GetParam(), dir_.path(), next_scope_++);
  }

  TempDir dir_;
  int next_scope_ = 0;
};

// The operators, to run the same steps on each.
template <typename First, typename... Rest>
std::vector<First> All(First first, Rest... rest) {
  std::vector<First> all;
  all.push_back(std::move(first));
  (all.push_back(std::move(rest)), ...);
  return all;
}

constexpr size_t kDefaultCache = StateBackendConfig{}.lmdb_cache_entries;
INSTANTIATE_TEST_SUITE_P(Backends, WindowOperatorTest,
                         ::testing::Values(Backend{StateBackendKind::kMemory, kDefaultCache, "Memory"},
                                           Backend{StateBackendKind::kLmdb, kDefaultCache, "Lmdb"},
                                           Backend{StateBackendKind::kLmdb, 2, "LmdbTinyCache"}),
                         [](const auto& info) { return std::string(info.param.name); });

// --- tumbling --------------------------------------------------------------------------------

// Tumbling windows of 10 ms, counted per key, on the slicing and the general operator:
//   batch 1: a@1 a@12 b@5 a@9 b@15 a@3
//   watermark 9:  [0,10) fires: a has 1, 9, 3 -> 3; b has 5 -> 1
//   batch 2: a@7 (window [0,10) cleaned up at 9: late, dropped), b@11
//   watermark 25: [10,20) fires: a has 12 -> 1; b has 15, 11 -> 2
void ExpectTumblingCounts(Running<Result>& w) {
  w.Send({{"a", 0, 1}, {"a", 0, 12}, {"b", 0, 5}, {"a", 0, 9}, {"b", 0, 15}, {"a", 0, 3}});
  EXPECT_TRUE(w.Take().empty());
  w.Watermark(9);
  ASSERT_EQ(w.records().size(), 2u);
  EXPECT_EQ(w.records()[0].timestamp, 9);  // results carry the window's maxTimestamp
  EXPECT_EQ(w.Take(), (std::vector<Result>{{"a", 10, 3}, {"b", 10, 1}}));
  w.Send({{"a", 0, 7}, {"b", 0, 11}});
  EXPECT_TRUE(w.Take().empty());
  EXPECT_EQ(w.dropped(), 1);
  w.Watermark(25);
  EXPECT_EQ(w.Take(), (std::vector<Result>{{"a", 20, 1}, {"b", 20, 2}}));
  EXPECT_EQ(w.watermarks(), (std::vector<Timestamp>{9, 25}));
}

TEST_P(WindowOperatorTest, TumblingEventTimeCountsPerKeyAndDropsLateRecords) {
  auto sliced = Run<Result>(Sliced<Result>(TumblingEventTimeWindows::of(10), CountFn()));
  ExpectTumblingCounts(*sliced);
  auto general = Run<Result>(General<Result>(TumblingEventTimeWindows::of(10), CountFn()));
  ExpectTumblingCounts(*general);
}

// An offset shifts the windows: size 10, offset 3 gives [-7,3), [3,13), [13,23).
//   a@2 -> [-7,3); a@3, a@12 -> [3,13); a@13 -> [13,23)
TEST_P(WindowOperatorTest, TumblingWindowsWithAnOffset) {
  auto w = Run<Result>(Sliced<Result>(TumblingEventTimeWindows::of(10, 3), CountFn()));
  w->Send({{"a", 0, 2}, {"a", 0, 3}, {"a", 0, 12}, {"a", 0, 13}});
  w->Watermark(100);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 3, 1}, {"a", 13, 2}, {"a", 23, 1}}));
}

// reduce, aggregate and process see the same windows: sums of the values per window.
//   a: 1@0, 2@4, 4@11, 8@19, 16@20; b: 32@5
//   [0,10): a 1+2 = 3, b 32; [10,20): a 4+8 = 12; [20,30): a 16
TEST_P(WindowOperatorTest, ReduceAggregateAndProcessAgree) {
  const std::vector<Result> expected = {{"a", 10, 3}, {"b", 10, 32}, {"a", 20, 12}, {"a", 30, 16}};
  auto feed = [&](Running<Result>& w) {
    w.Send({{"a", 16, 20}, {"a", 1, 0}, {"b", 32, 5}, {"a", 4, 11}});
    w.Send({{"a", 8, 19}, {"a", 2, 4}});
    w.Watermark(kMaxWatermark);
    return w.Take();
  };
  const auto size = TumblingEventTimeWindows::of(10);
  EXPECT_EQ(feed(*Run<Result>(Sliced<Result>(size, SumReduceFn()))), expected);
  EXPECT_EQ(feed(*Run<Result>(Sliced<Result>(size, SumAggFn()))), expected);
  EXPECT_EQ(feed(*Run<Result>(General<Result>(size, SumReduceFn()))), expected);
  EXPECT_EQ(feed(*Run<Result>(General<Result>(size, SumAggFn()))), expected);
  EXPECT_EQ(feed(*Run<Result>(General<Result>(size, SumProcessFn()))), expected);
  // reduce without a window function emits the reduced record itself.
  auto plain = Run<Rec>(Sliced<Rec>(size, MakeReduceFunction<Rec>(SumReduce{})));
  plain->Send({{"a", 1, 0}, {"a", 2, 4}});
  plain->Watermark(9);
  EXPECT_EQ(plain->Take(), (std::vector<Rec>{{"a", 3}}));
}

TEST_P(WindowOperatorTest, EventTimeWindowsRejectRecordsWithoutTimestamps) {
  auto w = Run<Result>(Sliced<Result>(TumblingEventTimeWindows::of(10), CountFn()));
  try {
    w->Send({{"a", 0, kNoTimestamp}});
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no timestamp"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("TumblingEventTimeWindows(10)"), std::string::npos);
  }
  auto general = Run<Result>(General<Result>(EventTimeSessionWindows::withGap(5), CountFn()));
  EXPECT_THROW(general->Send({{"a", 0, kNoTimestamp}}), std::runtime_error);
}

// --- sliding ---------------------------------------------------------------------------------

// Size 20, slide 10; sums. a: 4@25, 1@5, 2@15 (out of order).
//   [-10,10): 1; [0,20): 1+2 = 3; [10,30): 2+4 = 6; [20,40): 4
TEST_P(WindowOperatorTest, SlidingWindowsSumEveryWindowARecordBelongsTo) {
  const std::vector<Result> expected = {{"a", 10, 1}, {"a", 20, 3}, {"a", 30, 6}, {"a", 40, 4}};
  const auto sliding = SlidingEventTimeWindows::of(20, 10);
  for (auto& w : All(Run<Result>(Sliced<Result>(sliding, SumAggFn())),
                     Run<Result>(General<Result>(sliding, SumAggFn())),
                     Run<Result>(General<Result>(sliding, SumProcessFn())))) {
    w->Send({{"a", 4, 25}, {"a", 1, 5}, {"a", 2, 15}});
    w->Watermark(19);  // [-10,10) and [0,20) are complete
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 1}, {"a", 20, 3}}));
    w->Watermark(kMaxWatermark);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 30, 6}, {"a", 40, 4}}));
  }
}

// The per-window simulation of Flink's semantics the sliding tests compare against: every
// record goes into each window holding it that is not past its cleanup time; a window fires
// when the watermark passes its end, and again for each record that arrives after that within
// the allowed lateness.
class NaiveSlidingWindows {
 public:
  NaiveSlidingWindows(int64_t size, int64_t slide, int64_t lateness)
      : size_(size), slide_(slide), lateness_(lateness) {}

  void Record(const std::string& key, int64_t value, Timestamp ts) {
    bool added = false;
    // Window starts are the multiples of slide; try every one near ts.
    for (int64_t start = (ts / slide_ - size_ / slide_ - 2) * slide_; start <= ts + slide_;
         start += slide_) {
      if (!(start <= ts && ts < start + size_)) continue;
      const int64_t end = start + size_;
      if (end - 1 + lateness_ <= watermark_) continue;  // cleaned up already
      added = true;
      int64_t& sum = windows_[{end, key}];
      sum += value;
      if (end - 1 <= watermark_) out.emplace_back(key, end, sum);  // fired already: re-fire
    }
    if (!added) ++late;
  }

  void Watermark(Timestamp wm) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      const auto& [end, key] = it->first;
      if (end - 1 > watermark_ && end - 1 <= wm) out.emplace_back(key, end, it->second);
      if (wm != kMaxWatermark && end - 1 + lateness_ > wm) {
        ++it;
      } else {
        it = windows_.erase(it);
      }
    }
    watermark_ = wm;
  }

  std::vector<Result> out;
  int64_t late = 0;

 private:
  int64_t size_, slide_, lateness_;
  Timestamp watermark_ = kMinWatermark;
  std::map<std::pair<int64_t, std::string>, int64_t> windows_;  // (end, key) -> sum
};

struct RandomCase {
  int64_t size, slide, lateness;
};

// Random out-of-order records with watermarks trailing the largest timestamp by 30 ms, so some
// records are late; the slicing operator and the general one must emit exactly what the
// per-window simulation does (as multisets: the order among keys is not specified).
TEST_P(WindowOperatorTest, SlicingMatchesPerWindowComputationOnRandomData) {
  // The last three have enough slices per window for the two-stacks scan.
  for (RandomCase c : {RandomCase{30, 10, 0}, RandomCase{25, 10, 0}, RandomCase{60, 15, 20},
                       RandomCase{20, 20, 15}, RandomCase{35, 7, 0}, RandomCase{100, 10, 0},
                       RandomCase{90, 20, 25}, RandomCase{100, 10, 10}}) {
    SCOPED_TRACE("size " + std::to_string(c.size) + " slide " + std::to_string(c.slide) +
                 " lateness " + std::to_string(c.lateness));
    const auto assigner = SlidingEventTimeWindows::of(c.size, c.slide);
    auto sliced = Run<Result>(Sliced<Result>(assigner, SumAggFn(), Lateness(c.lateness)));
    auto reduced = Run<Result>(Sliced<Result>(assigner, SumReduceFn(), Lateness(c.lateness)));
    auto general = Run<Result>(General<Result>(assigner, SumAggFn(), Lateness(c.lateness)));
    NaiveSlidingWindows naive(c.size, c.slide, c.lateness);
    std::mt19937_64 rng(c.size * 1000 + c.slide);
    Timestamp max_ts = 0;
    for (int batch = 0; batch < 60; ++batch) {
      std::vector<std::tuple<std::string, int64_t, Timestamp>> records;
      for (int i = 0; i < 12; ++i) {
        const std::string key(1, char('a' + rng() % 4));
        const int64_t value = int64_t(rng() % 100) + 1;
        const Timestamp ts = std::max<Timestamp>(0, batch * 10 + int64_t(rng() % 160) - 120);
        records.emplace_back(key, value, ts);
        naive.Record(key, value, ts);
        max_ts = std::max(max_ts, ts);
      }
      for (auto* w : {sliced.get(), reduced.get(), general.get()}) w->Send(records);
      if (batch % 3 == 2) {
        for (auto* w : {sliced.get(), reduced.get(), general.get()}) w->Watermark(max_ts - 30);
        naive.Watermark(max_ts - 30);
      }
    }
    for (auto* w : {sliced.get(), reduced.get(), general.get()}) w->Watermark(kMaxWatermark);
    naive.Watermark(kMaxWatermark);
    std::vector<Result> expected = naive.out;
    std::sort(expected.begin(), expected.end());
    ASSERT_GT(naive.late, 0) << "the data should include late records";
    std::set<std::pair<std::string, int64_t>> windows;
    for (const auto& [key, end, sum] : expected) windows.emplace(key, end);
    if (c.lateness > 0) {
      ASSERT_GT(expected.size(), windows.size()) << "and re-fired windows";
    }
    for (auto* w : {sliced.get(), reduced.get(), general.get()}) {
      std::vector<Result> got = w->Take();
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, expected);
      EXPECT_EQ(w->dropped(), naive.late);
    }
  }
}

// --- allowed lateness and late data ----------------------------------------------------------

// Tumbling 10 ms, allowed lateness 5 ms, late records to the side output "late":
//   a@1 a@2, watermark 9 -> [0,10) fires with 2
//   a@3 (cleanup at 9 + 5 = 14 > 9): re-fires at once with 3
//   watermark 12, a@4: re-fires with 4
//   watermark 14: [0,10) is cleaned up; a@5 is late for good -> side output
TEST_P(WindowOperatorTest, AllowedLatenessReFiresAndLaterRecordsGoToTheSideOutput) {
  for (auto& w : All(Run<Result>(Sliced<Result>(TumblingEventTimeWindows::of(10), CountFn(),
                                                Lateness(5, "late"))),
                     Run<Result>(General<Result>(TumblingEventTimeWindows::of(10), CountFn(),
                                                 Lateness(5, "late"))))) {
    w->Send({{"a", 1, 1}, {"a", 2, 2}});
    w->Watermark(9);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 2}}));
    w->Send({{"a", 3, 3}});
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 3}}));
    w->Watermark(12);
    w->Send({{"a", 4, 4}});
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 4}}));
    w->Watermark(14);
    w->Send({{"a", 5, 5}});
    EXPECT_TRUE(w->Take().empty());
    ASSERT_EQ(w->late.records.size(), 1u);
    EXPECT_EQ(w->late.records[0].value, (Rec{"a", 5}));
    EXPECT_EQ(w->late.records[0].timestamp, 5);
    EXPECT_EQ(w->dropped(), 0);  // it went to the side output instead
    EXPECT_EQ(w->late.watermarks, (std::vector<Timestamp>{9, 12, 14}));
  }
}

// Sliding 20/10 with lateness 5; sums.
//   a: 1@5, 2@15. watermark 9 -> [-10,10): 1. watermark 19 -> [0,20): 3
//   a: 4@8 -> [-10,10) is cleaned up (9 + 5 <= 19); [0,20) fired but is kept until 24:
//            re-fires with 1 + 2 + 4 = 7
//   watermark 24; a: 8@9 -> both its windows are cleaned up: late (side output)
//   end: [10,30): 2
TEST_P(WindowOperatorTest, SlidingWindowsReFireOnlyTheWindowsStillKept) {
  for (auto& w : All(Run<Result>(Sliced<Result>(SlidingEventTimeWindows::of(20, 10), SumAggFn(),
                                                Lateness(5, "late"))),
                     Run<Result>(General<Result>(SlidingEventTimeWindows::of(20, 10), SumAggFn(),
                                                 Lateness(5, "late"))))) {
    w->Send({{"a", 1, 5}, {"a", 2, 15}});
    w->Watermark(9);
    w->Watermark(19);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 1}, {"a", 20, 3}}));
    w->Send({{"a", 4, 8}});
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 20, 7}}));
    w->Watermark(24);
    w->Send({{"a", 8, 9}});
    EXPECT_EQ(w->late.values, (std::vector<Rec>{{"a", 8}}));
    w->Watermark(kMaxWatermark);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 30, 2}}));
  }
}

// --- sessions --------------------------------------------------------------------------------

// Sessions with a gap of 10 ms (values = timestamps):
//   a@1 -> [1,11); a@25 -> [25,35); a@12 -> [12,22) (does not touch [1,11): 11 < 12)
//   a@14 -> [14,24) extends [12,22) to [12,24); b@3 -> b's own [3,13)
//   watermark 5: nothing is complete
//   a@11 -> [11,21) touches [1,11) and overlaps [12,24): the bridge merges them into [1,24)
//   watermark 23 -> a [1,24) = {1, 11, 12, 14} and b [3,13) = {3} fire
//   a@30 -> [30,40) overlaps [25,35): [25,40)
//   a@2 -> [2,12): its session was cleaned up at 23, the window is late -> dropped
//   end -> a [25,40) = {25, 30}
TEST_P(WindowOperatorTest, SessionWindowsMergeIncludingABridgingRecord) {
  auto w = Run<std::string>(General<std::string>(EventTimeSessionWindows::withGap(10),
                                                 MakeProcessFunction<Rec>(ListValues{})));
  w->Send({{"a", 1, 1}, {"a", 25, 25}, {"a", 12, 12}, {"a", 14, 14}, {"b", 3, 3}});
  w->Watermark(5);
  EXPECT_TRUE(w->Take().empty());
  w->Send({{"a", 11, 11}});
  w->Watermark(11);  // the timer of [1,11) at 10 went with the merge
  EXPECT_TRUE(w->Take().empty());
  w->Watermark(23);
  EXPECT_EQ(w->Take(), (std::vector<std::string>{"b [3,13): 3", "a [1,24): 1 11 12 14"}));
  w->Send({{"a", 30, 30}, {"a", 2, 2}});
  EXPECT_EQ(w->dropped(), 1);
  w->Watermark(kMaxWatermark);
  EXPECT_EQ(w->Take(), (std::vector<std::string>{"a [25,40): 25 30"}));
}

// The same sessions counted and summed incrementally: merging folds accumulators together.
//   a: [1,24) holds 4 records summing to 1+11+12+14 = 38; [25,40) holds 25+30 = 55
TEST_P(WindowOperatorTest, SessionWindowsMergeIncrementalAggregates) {
  const auto sessions = EventTimeSessionWindows::withGap(10);
  auto counts = Run<Result>(General<Result>(sessions, CountFn()));
  auto sums = Run<Result>(General<Result>(sessions, SumReduceFn()));
  for (auto* w : {counts.get(), sums.get()}) {
    w->Send({{"a", 1, 1}, {"a", 25, 25}, {"a", 12, 12}, {"a", 14, 14}});
    w->Send({{"a", 11, 11}, {"a", 30, 30}});
    w->Watermark(kMaxWatermark);
  }
  EXPECT_EQ(counts->Take(), (std::vector<Result>{{"a", 24, 4}, {"a", 40, 2}}));
  EXPECT_EQ(sums->Take(), (std::vector<Result>{{"a", 24, 38}, {"a", 40, 55}}));
}

// Sessions with allowed lateness: a late record within the lateness extends a session that
// fired already, which re-fires with the merged contents.
//   gap 10, lateness 10: a@1 -> [1,11). watermark 10 -> fires {1}
//   a@8 -> [8,18) merges into [1,18): maxTimestamp 17 > watermark, so it fires again at 17
TEST_P(WindowOperatorTest, LateRecordExtendsAFiredSession) {
  auto w = Run<std::string>(General<std::string>(
      EventTimeSessionWindows::withGap(10), MakeProcessFunction<Rec>(ListValues{}), Lateness(10)));
  w->Send({{"a", 1, 1}});
  w->Watermark(10);
  EXPECT_EQ(w->Take(), (std::vector<std::string>{"a [1,11): 1"}));
  w->Send({{"a", 8, 8}});
  EXPECT_TRUE(w->Take().empty());
  w->Watermark(17);
  EXPECT_EQ(w->Take(), (std::vector<std::string>{"a [1,18): 1 8"}));
}

// --- global windows and triggers -------------------------------------------------------------

// GlobalWindows with CountTrigger::of(3): a's values 1..7.
//   CountTrigger keeps the contents: fires 1+2+3 = 6, then 1+...+6 = 21; the 7th waits.
//   PurgingTrigger of it: 6, then 4+5+6 = 15.
TEST_P(WindowOperatorTest, GlobalWindowsWithCountTriggers) {
  auto keep = Run<Result>(
      General<Result>(WithTrigger(GlobalWindows::create(), CountTrigger::of(3)), SumReduceFn()));
  auto purge = Run<Result>(General<Result>(
      WithTrigger(GlobalWindows::create(), PurgingTrigger<CountTrigger>::of(CountTrigger::of(3))),
      SumReduceFn()));
  auto lists = Run<Result>(General<Result>(
      WithTrigger(GlobalWindows::create(), PurgingTrigger<CountTrigger>::of(CountTrigger::of(3))),
      SumProcessFn()));
  for (auto* w : {keep.get(), purge.get(), lists.get()}) {
    w->Send({{"a", 1, kNoTimestamp}, {"b", 100, kNoTimestamp}, {"a", 2, kNoTimestamp}});
    w->Send({{"a", 3, kNoTimestamp}, {"a", 4, kNoTimestamp}, {"a", 5, kNoTimestamp}});
    w->Send({{"a", 6, kNoTimestamp}, {"a", 7, kNoTimestamp}});
    w->Watermark(kMaxWatermark);  // the global window never ends by time
  }
  EXPECT_EQ(keep->Take(), (std::vector<Result>{{"a", -1, 6}, {"a", -1, 21}}));
  EXPECT_EQ(purge->Take(), (std::vector<Result>{{"a", -1, 6}, {"a", -1, 15}}));
  EXPECT_EQ(lists->Take(), (std::vector<Result>{{"a", -1, 6}, {"a", -1, 15}}));
}

// A user trigger: fires early for each element with a value of at least 100, at most twice per
// window (counted in per-window trigger state), and fires-and-purges at the window's end.
struct EarlyBigValues {
  static inline const ValueStateDescriptor<int64_t> kEarlyFires{"early-fires"};

  TriggerResult onElement(const Rec& e, Timestamp, const TimeWindow& w,
                          TriggerContext<std::string, TimeWindow>& ctx) {
    if (ctx.windowIsNew()) ctx.registerEventTimeTimer(w.maxTimestamp());
    ValueState<int64_t>& early = ctx.getPartitionedState(kEarlyFires);
    const int64_t fired = early.valueOr(0);
    if (e.second < 100 || fired >= 2) return TriggerResult::CONTINUE;
    early.update(fired + 1);
    return TriggerResult::FIRE;
  }
  TriggerResult onEventTime(Timestamp time, const TimeWindow& w,
                            TriggerContext<std::string, TimeWindow>&) {
    return time == w.maxTimestamp() ? TriggerResult::FIRE_AND_PURGE : TriggerResult::CONTINUE;
  }
  TriggerResult onProcessingTime(Timestamp, const TimeWindow&,
                                 TriggerContext<std::string, TimeWindow>&) {
    return TriggerResult::CONTINUE;
  }
  void clear(const TimeWindow& w, TriggerContext<std::string, TimeWindow>& ctx) {
    ctx.deleteEventTimeTimer(w.maxTimestamp());
    ctx.getPartitionedState(kEarlyFires).clear();
  }
};

// Tumbling 10 ms, sums, with EarlyBigValues:
//   a: 1@1, 100@2 -> early fire 101; 5@3; 200@4 -> early fire 306; 300@5 -> no (two already)
//   a: 100@11 -> window [10,20) has its own count: early fire 100
//   watermark 9 -> [0,10) fires and purges: 606. watermark 19 -> [10,20): 100
//   a: 7@15 (late: [10,20) is cleaned up) -> dropped
TEST_P(WindowOperatorTest, CustomTriggerWithTimersAndPerWindowState) {
  auto w = Run<Result>(
      General<Result>(WithTrigger(TumblingEventTimeWindows::of(10), EarlyBigValues{}), SumAggFn()));
  w->Send({{"a", 1, 1}, {"a", 100, 2}, {"a", 5, 3}, {"a", 200, 4}, {"a", 300, 5}});
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 101}, {"a", 10, 306}}));
  w->Send({{"a", 100, 11}});
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 20, 100}}));
  w->Watermark(9);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 10, 606}}));
  w->Watermark(19);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 20, 100}}));
  w->Send({{"a", 7, 15}});
  EXPECT_TRUE(w->Take().empty());
  EXPECT_EQ(w->dropped(), 1);
}

// --- processing time -------------------------------------------------------------------------

// A clock the test moves by hand (the operator reads it through WindowSettings).
struct ManualClock {
  std::shared_ptr<Timestamp> now = std::make_shared<Timestamp>(0);
  WindowSettings Settings() const {
    WindowSettings s;
    s.processing_clock = [now = now] { return *now; };
    return s;
  }
};

// Tumbling processing-time windows of 100 ms, counted:
//   at 1005: a, b -> [1000,1100); at 1050: a; at 1100: a -> [1100,1200)
//   timers due at 1099: a 2, b 1; at 1199: a 1
TEST_P(WindowOperatorTest, TumblingProcessingTimeWindowsFireFromProcessingTimers) {
  ManualClock clock;
  for (auto& w : All(Run<Result>(Sliced<Result>(TumblingProcessingTimeWindows::of(100), CountFn(),
                                                clock.Settings())),
                     Run<Result>(General<Result>(TumblingProcessingTimeWindows::of(100),
                                                 SumProcessFn(), clock.Settings())))) {
    *clock.now = 1005;
    w->Send({{"a", 1, kNoTimestamp}, {"b", 1, kNoTimestamp}});
    *clock.now = 1050;
    w->Send({{"a", 1, kNoTimestamp}});
    *clock.now = 1100;
    w->Send({{"a", 1, kNoTimestamp}});
    w->FireProcessingTimers(1098);
    EXPECT_TRUE(w->Take().empty());
    w->FireProcessingTimers(1099);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 1100, 2}, {"b", 1100, 1}}));
    w->Watermark(5000);  // event time does not matter
    EXPECT_TRUE(w->Take().empty());
    w->FireProcessingTimers(1199);
    EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 1200, 1}}));
  }
}

// Sliding processing-time windows of 200 ms every 100 ms: a at 1050 and 1150.
//   [900,1100) fires at 1099 with 1; [1000,1200) at 1199 with 2; [1100,1300) at 1299 with 1
TEST_P(WindowOperatorTest, SlidingProcessingTimeWindows) {
  ManualClock clock;
  auto w = Run<Result>(
      Sliced<Result>(SlidingProcessingTimeWindows::of(200, 100), CountFn(), clock.Settings()));
  *clock.now = 1050;
  w->Send({{"a", 1, kNoTimestamp}});
  *clock.now = 1150;
  w->Send({{"a", 1, kNoTimestamp}});
  w->FireProcessingTimers(1099);
  w->FireProcessingTimers(1199);
  w->FireProcessingTimers(1299);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 1100, 1}, {"a", 1200, 2}, {"a", 1300, 1}}));
}

// Long sliding processing-time windows (600 ms every 100 ms: the two-stacks scan), a at 1050,
// 1150, 1450, 1950 and 2650, processing time advancing in between. Window [s, s + 600) counts:
//   end 1100: {1050}; 1200..1400: {1050, 1150}; 1500, 1600: {1050, 1150, 1450};
//   1700: {1150, 1450}; 1800, 1900: {1450}; 2000: {1450, 1950}; 2100..2500: {1950};
//   2600: nothing, not emitted; 2700..3200: {2650}
TEST_P(WindowOperatorTest, LongSlidingProcessingTimeWindowsShareSlices) {
  ManualClock clock;
  auto op = Sliced<Result>(SlidingProcessingTimeWindows::of(600, 100), CountFn(), clock.Settings());
  EXPECT_TRUE(op->uses_scan());
  auto w = Run<Result>(std::move(op));
  for (auto [at, fire_until] : std::vector<std::pair<Timestamp, Timestamp>>{
           {1050, 1149}, {1150, 1449}, {1450, 1949}, {1950, 2649}, {2650, 3300}}) {
    *clock.now = at;
    w->Send({{"a", 1, kNoTimestamp}});
    for (Timestamp t = at; t <= fire_until; ++t) w->FireProcessingTimers(t);
  }
  EXPECT_EQ(w->Take(),
            (std::vector<Result>{{"a", 1100, 1}, {"a", 1200, 2}, {"a", 1300, 2}, {"a", 1400, 2},
                                 {"a", 1500, 3}, {"a", 1600, 3}, {"a", 1700, 2}, {"a", 1800, 1},
                                 {"a", 1900, 1}, {"a", 2000, 2}, {"a", 2100, 1}, {"a", 2200, 1},
                                 {"a", 2300, 1}, {"a", 2400, 1}, {"a", 2500, 1}, {"a", 2700, 1},
                                 {"a", 2800, 1}, {"a", 2900, 1}, {"a", 3000, 1}, {"a", 3100, 1},
                                 {"a", 3200, 1}}));
}

// Processing-time sessions with a gap of 50 ms: a at 1000 and 1040 -> [1000,1090) fires at
// 1089 with 2; a at 1200 starts a new session.
TEST_P(WindowOperatorTest, ProcessingTimeSessions) {
  ManualClock clock;
  auto w = Run<Result>(
      General<Result>(ProcessingTimeSessionWindows::withGap(50), CountFn(), clock.Settings()));
  *clock.now = 1000;
  w->Send({{"a", 1, kNoTimestamp}});
  *clock.now = 1040;
  w->Send({{"a", 1, kNoTimestamp}});
  w->FireProcessingTimers(1049);  // the first session's own end passed with the merge
  EXPECT_TRUE(w->Take().empty());
  w->FireProcessingTimers(1089);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 1090, 2}}));
  *clock.now = 1200;
  w->Send({{"a", 1, kNoTimestamp}});
  w->FireProcessingTimers(1249);
  EXPECT_EQ(w->Take(), (std::vector<Result>{{"a", 1250, 1}}));
}

// --- assigners -------------------------------------------------------------------------------

TEST(WindowAssigners, AssignTheWindowsFlinkDoes) {
  std::vector<TimeWindow> got;
  auto collect = [&](const TimeWindow& w) { got.push_back(w); };
  SlidingEventTimeWindows::of(30, 10).AssignWindows(25, collect);
  // The latest window first, as Flink lists them.
  EXPECT_EQ(got, (std::vector<TimeWindow>{{20, 50}, {10, 40}, {0, 30}}));
  got.clear();
  TumblingEventTimeWindows::of(10).AssignWindows(-3, collect);  // negative time floors
  EXPECT_EQ(got, (std::vector<TimeWindow>{{-10, 0}}));
  EXPECT_EQ(TimeWindow({0, 10}).maxTimestamp(), 9);
  EXPECT_TRUE(TimeWindow({0, 5}).intersects({5, 10}));
  EXPECT_FALSE(TimeWindow({0, 5}).intersects({6, 10}));
  EXPECT_THROW(TumblingEventTimeWindows::of(0), std::invalid_argument);
  EXPECT_THROW(SlidingEventTimeWindows::of(10, 5, 7), std::invalid_argument);
  EXPECT_THROW(EventTimeSessionWindows::withGap(-1), std::invalid_argument);
}

TEST(WindowAssigners, SlicesAreTheGreatestCommonDivisor) {
  auto fn = CountFn();
  SlicingWindowOperator<std::string, Rec, Result, KeyOf, SlidingEventTimeWindows, decltype(fn)> op(
      KeyOf{}, SlidingEventTimeWindows::of(25, 10), fn, {});
  EXPECT_EQ(op.slice_size(), 5);
  EXPECT_FALSE(op.uses_scan());  // 5 slices a window, 2 a slide: merging them all is cheap
}

}  // namespace
}  // namespace brook
