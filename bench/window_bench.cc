// Window throughput driver, in the style of throughput_bench.cc: each case prints one line
//
//   case=<name> brook=<events/s> baseline=<events/s> ratio=<brook/baseline> [key=value...]
//
// Events are a pure function of their index: key = splitmix64(i) % 10,000, event time i / 10 ms
// (10 events per ms, so a minute holds 600,000 events, 60 per key).
//
//   window_memory   keyed tumbling 1-minute event-time count, in-memory state, parallelism 2,
//                   against a hand-written single-threaded loop counting the same (key, window)
//                   pairs in a flat hash map. The driver checks both found the same windows, counts
//                   and checksum.
//   window_lmdb     the same job with the LMDB state backend.
//   sliding_slices  a sliding window of 1 hour every minute (60 slides per window) against the
//                   tumbling 1-minute window, both Brook jobs on the same data, in-memory state:
//                   brook = sliding events/s, baseline = tumbling events/s. With slicing, each
//                   event is aggregated once either way; checked: every event is counted in
//                   exactly 60 sliding windows.
//
//   brook_window_bench [CASE...] [--events N] [--runs R] [--warmup N]
//
// After a warm-up on a small input (--warmup, 1M events), each side runs R times (--runs,
// default 3) and the best time counts. Only MiniCluster::Execute and the loop are timed.
#include <unistd.h>

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"
#include "brook/brook.h"
#include "brook/cluster/mini_cluster.h"

namespace {

constexpr uint64_t kKeys = 10'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kEventsPerMs = 10;

struct Event {
  uint64_t key;
  int64_t ts;
};

using brook::bench::SplitMix64;
inline Event MakeEvent(uint64_t i) {
  return Event{SplitMix64(i) % kKeys, int64_t(i) / kEventsPerMs};
}

// A window's result, and what both sides fold results into.
struct WindowCount {
  uint64_t key;
  int64_t window_end;
  int64_t count;
};
inline uint64_t Fingerprint(uint64_t key, int64_t window_end, int64_t count) {
  return SplitMix64(key * 1'000'003 + uint64_t(window_end)) * uint64_t(count);
}

struct CountEvents {
  using Acc = int64_t;
  using Out = int64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const Event&, Acc& acc) const { ++acc; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};

struct Totals {
  std::atomic<uint64_t> windows{0};
  std::atomic<uint64_t> events{0};  // sum of the windows' counts
  std::atomic<uint64_t> checksum{0};
};

// Folds each batch of results locally and publishes once per batch.
class CountingSink {
 public:
  // Shared: every subtask's copy adds to the totals the driver reads after the job.
  explicit CountingSink(std::shared_ptr<Totals> totals) : totals_(std::move(totals)) {}
  void writeBatch(const brook::RecordBatch<WindowCount>& batch) {
    uint64_t events = 0, checksum = 0;
    for (const auto& r : batch.records) {
      events += uint64_t(r.value.count);
      checksum += Fingerprint(r.value.key, r.value.window_end, r.value.count);
    }
    totals_->windows.fetch_add(batch.size(), std::memory_order_relaxed);
    totals_->events.fetch_add(events, std::memory_order_relaxed);
    totals_->checksum.fetch_add(checksum, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<Totals> totals_;
};

struct Outcome {
  uint64_t windows = 0;
  uint64_t events = 0;
  uint64_t checksum = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The job: events -> watermarks -> keyBy -> window(assigner) count -> CountingSink.
template <typename Assigner>
Outcome RunBrook(Assigner assigner, uint64_t n, const brook::StateBackendConfig& backend) {
  brook::StreamEnvironment env;
  env.setParallelism(2);
  env.setStateBackend(backend);
  auto totals = std::make_shared<Totals>();
  brook::GeneratorOptions options;
  options.count = n;
  options.num_splits = 2;  // each source subtask reads its events in time order
  env.fromGenerator(
         "events", [](uint64_t i) { return MakeEvent(i); }, options,
         [](const Event& e) { return e.ts; })
      .assignTimestampsAndWatermarks(
          brook::WatermarkStrategy<Event>::forBoundedOutOfOrderness(1000))
      .keyBy([](const Event& e) { return e.key; })
      .window(assigner)
      .aggregate(CountEvents{},
                 [](const uint64_t& key, const brook::TimeWindow& w, const int64_t& count) {
                   return WindowCount{key, w.end, count};
                 })
      .sinkTo(CountingSink(totals), "count");
  brook::JobGraph graph = env.BuildJobGraph("bench-window");
  brook::MiniCluster cluster;
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  brook::JobResult result = cluster.Execute(std::move(graph));
  const double seconds = SecondsSince(start);
  if (!result.ok()) {
    std::fprintf(stderr, "the Brook job ended %s: %s\n", brook::JobStatusName(result.status),
                 result.error.c_str());
    std::exit(1);
  }
  return Outcome{totals->windows.load(), totals->events.load(), totals->checksum.load(), seconds,
                 ProcessCpuSeconds() - cpu_start};
}

// The hand-written loop: per-(key, window) counts in one open-addressing hash map (the kind
// Brook's in-memory state uses), then the same fold.
[[gnu::noinline]] Outcome LoopTumblingCounts(uint64_t n) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, int64_t>& p) const {
      return SplitMix64(p.first ^ (uint64_t(p.second) << 20));
    }
  };
  boost::unordered_flat_map<std::pair<uint64_t, int64_t>, int64_t, PairHash> counts;
  for (uint64_t i = 0; i < n; ++i) {
    const Event e = MakeEvent(i);
    ++counts[{e.key, e.ts / kMinute * kMinute + kMinute}];
  }
  Outcome out;
  for (const auto& [key_window, count] : counts) {
    ++out.windows;
    out.events += uint64_t(count);
    out.checksum += Fingerprint(key_window.first, key_window.second, count);
  }
  out.seconds = SecondsSince(start);
  out.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  return out;
}

// A stronger hand-written loop: the events are in time order, so only one window is open at a
// time; counts live in a dense per-key array and are folded when the window closes. This is
// what a person writing the loop for this data would do; the ratio against it is reported as
// streaming_ratio next to the case's ratio.
[[gnu::noinline]] Outcome LoopTumblingCountsStreaming(uint64_t n) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  std::vector<int64_t> counts(kKeys, 0);
  Outcome out;
  int64_t window_end = kMinute;
  auto close_window = [&] {
    for (uint64_t key = 0; key < kKeys; ++key) {
      if (counts[key] == 0) continue;
      ++out.windows;
      out.events += uint64_t(counts[key]);
      out.checksum += Fingerprint(key, window_end, counts[key]);
      counts[key] = 0;
    }
  };
  for (uint64_t i = 0; i < n; ++i) {
    const Event e = MakeEvent(i);
    if (e.ts >= window_end) {
      close_window();
      window_end = e.ts / kMinute * kMinute + kMinute;
    }
    ++counts[e.key];
  }
  close_window();
  out.seconds = SecondsSince(start);
  out.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  return out;
}

struct Settings {
  uint64_t events = 50'000'000;
  uint64_t warmup_events = 1'000'000;
  int runs = 3;
};

// Runs `brook` and `baseline` R times each (after a warm-up), keeping the best of each.
std::pair<Outcome, Outcome> BestOf(const Settings& settings, const std::string& name,
                                   const std::function<Outcome(uint64_t)>& brook,
                                   const std::function<Outcome(uint64_t)>& baseline) {
  if (settings.warmup_events > 0) {
    brook(std::min(settings.warmup_events, settings.events));
    baseline(std::min(settings.warmup_events, settings.events));
  }
  Outcome best_brook, best_baseline;
  for (int r = 0; r < settings.runs; ++r) {
    Outcome b = brook(settings.events);
    Outcome l = baseline(settings.events);
    std::fprintf(stderr,
                 "case %s run %d: brook %.3f s (cpu %.3f s, windows %llu), baseline %.3f s "
                 "(cpu %.3f s, windows %llu)\n",
                 name.c_str(), r + 1, b.seconds, b.cpu_seconds, (unsigned long long)b.windows,
                 l.seconds, l.cpu_seconds, (unsigned long long)l.windows);
    if (r == 0 || b.seconds < best_brook.seconds) best_brook = b;
    if (r == 0 || l.seconds < best_baseline.seconds) best_baseline = l;
  }
  return {best_brook, best_baseline};
}

void PrintCase(const std::string& name, uint64_t events, const Outcome& brook,
               const Outcome& baseline, bool match, const std::string& extra = "") {
  const double brook_rate = double(events) / brook.seconds;
  const double baseline_rate = double(events) / baseline.seconds;
  std::printf(
      "case=%s brook=%.0f baseline=%.0f ratio=%.3f events=%llu brook_s=%.3f baseline_s=%.3f "
      "brook_cpu_s=%.3f baseline_cpu_s=%.3f windows=%llu checksum=%llu match=%s%s\n",
      name.c_str(), brook_rate, baseline_rate, brook_rate / baseline_rate,
      (unsigned long long)events, brook.seconds, baseline.seconds, brook.cpu_seconds,
      baseline.cpu_seconds, (unsigned long long)brook.windows, (unsigned long long)brook.checksum,
      match ? "yes" : "no", extra.c_str());
  std::fflush(stdout);
  if (!match) std::fprintf(stderr, "case %s: MISMATCH\n", name.c_str());
}

// A scratch directory for LMDB, removed afterwards.
struct ScratchDir {
  ScratchDir()
      : path((std::filesystem::temp_directory_path() /
              ("brook-window-bench-" + std::to_string(::getpid())))
                 .string()) {}
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

bool RunTumbling(const Settings& settings, const std::string& name,
                 const brook::StateBackendConfig& backend) {
  auto [brook, loop] = BestOf(
      settings, name,
      [&](uint64_t n) {
        return RunBrook(brook::TumblingEventTimeWindows::of(kMinute), n, backend);
      },
      LoopTumblingCounts);
  Outcome streaming = LoopTumblingCountsStreaming(settings.events);
  for (int r = 1; r < settings.runs; ++r) {
    Outcome again = LoopTumblingCountsStreaming(settings.events);
    if (again.seconds < streaming.seconds) streaming = again;
  }
  const bool match = brook.windows == loop.windows && brook.events == loop.events &&
                     brook.checksum == loop.checksum && loop.events == settings.events &&
                     streaming.checksum == loop.checksum;
  PrintCase(name, settings.events, brook, loop, match,
            " streaming_baseline=" + std::to_string(int64_t(double(settings.events) / streaming.seconds)) +
                " streaming_ratio=" + std::to_string(streaming.seconds / brook.seconds));
  return match;
}

bool RunSlidingSlices(const Settings& settings) {
  const brook::StateBackendConfig memory;
  auto [sliding, tumbling] = BestOf(
      settings, "sliding_slices",
      [&](uint64_t n) {
        return RunBrook(brook::SlidingEventTimeWindows::of(60 * kMinute, kMinute), n, memory);
      },
      [&](uint64_t n) {
        return RunBrook(brook::TumblingEventTimeWindows::of(kMinute), n, memory);
      });
  // Each event lies in exactly 60 sliding windows and in one tumbling window.
  const bool match = sliding.events == 60 * settings.events && tumbling.events == settings.events;
  PrintCase("sliding_slices", settings.events, sliding, tumbling, match);
  return match;
}

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr, "error: %s\n", error);
  std::fprintf(stderr,
               "usage: brook_window_bench [window_memory|window_lmdb|sliding_slices...] "
               "[--events N] [--runs R] [--warmup N]\n");
  std::exit(2);
}

uint64_t ParseCount(const char* flag, const char* text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') Usage((std::string(flag) + " needs a number").c_str());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<std::string> cases;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](const char* flag) {
      if (i + 1 >= argc) Usage((std::string(flag) + " needs a value").c_str());
      return ParseCount(flag, argv[++i]);
    };
    if (arg == "--events") {
      settings.events = value("--events");
      if (settings.events == 0) Usage("--events must be positive");
    } else if (arg == "--runs") {
      settings.runs = int(value("--runs"));
      if (settings.runs < 1) Usage("--runs must be at least 1");
    } else if (arg == "--warmup") {
      settings.warmup_events = value("--warmup");
    } else if (arg == "window_memory" || arg == "window_lmdb" || arg == "sliding_slices") {
      cases.emplace_back(arg);
    } else {
      Usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (cases.empty()) cases = {"window_memory", "window_lmdb", "sliding_slices"};

  bool ok = true;
  try {
    for (const std::string& c : cases) {
      if (c == "window_memory") {
        ok = RunTumbling(settings, c, brook::StateBackendConfig{}) && ok;
      } else if (c == "window_lmdb") {
        ScratchDir dir;
        ok = RunTumbling(settings, c,
                         brook::StateBackendConfig{brook::StateBackendKind::kLmdb, dir.path}) &&
             ok;
      } else {
        ok = RunSlidingSlices(settings) && ok;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return ok ? 0 : 1;
}
