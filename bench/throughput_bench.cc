// Whole-job throughput driver: runs a Brook job on a MiniCluster and a hand-written
// single-threaded loop that computes the same result over the same generated events, and
// prints one line per case:
//
//   case=<name> brook=<events/s> baseline=<events/s> ratio=<brook/baseline> [key=value...]
//
// Events are a pure function of their index (splitmix64), so Brook's generator source and the
// loop see exactly the same data. Both sides fold what they produce into a count and a checksum;
// the driver exits non-zero if Brook's differ from the loop's.
//
//   brook_throughput_bench [CASE...] [--events N] [--runs R] [--warmup N]
//                          [--channel-capacity C] [--batch-size B]
//
// Cases: chained, keyed_reduce (default: all). After a warm-up on a small input (--warmup, 1M
// events), each side runs R times (--runs, default 3) and the best time counts. Only the job
// execution (MiniCluster::Execute) and the loop are timed; building the job graph is not.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "brook/brook.h"
#include "brook/cluster/mini_cluster.h"

namespace {

// --- the data ---------------------------------------------------------------------------------

struct Event {
  uint64_t user_id;
  uint64_t item_id;
  uint32_t type;    // 0..3
  uint32_t amount;  // 0..127
  int64_t ts;
};
static_assert(sizeof(Event) == 32);

// The generator's splits. Users are aligned to splits (user % kSplits == index % kSplits), so
// all events of one user come from one split, in index order, in Brook as in the loop: the
// running values a keyed reduce emits are then the same sequence on both sides, whatever the
// parallelism, and their sum is an exact checksum.
constexpr int kSplits = 64;
constexpr uint64_t kUserBlocks = 157;  // kSplits * kUserBlocks = 10,048 distinct users
constexpr uint64_t kItems = 100'000;
constexpr int64_t kBaseTs = 1'700'000'000'000;

using brook::bench::SplitMix64;

inline Event MakeEvent(uint64_t i) {
  const uint64_t h = SplitMix64(i);
  return Event{(h % kUserBlocks) * kSplits + i % kSplits, (h >> 24) % kItems, uint32_t(h >> 62),
               uint32_t((h >> 12) & 127), kBaseTs + int64_t(i)};
}

// --- the functions of the jobs, shared with the loops -----------------------------------------

// chained: project to a scored event, keep the non-view ones, count and sum the scores.
struct Scored {
  uint64_t user_id;
  uint64_t score;
  uint32_t type;
};

inline Scored ToScored(const Event& e) {
  return Scored{e.user_id, (e.item_id ^ e.user_id) % 1000 + e.amount, e.type};
}
inline bool KeepScored(const Scored& s) { return s.type != 0; }

// keyed_reduce: running sum of `amount` per user (wraps identically on both sides).
inline uint64_t UserOf(const Event& e) { return e.user_id; }
inline Event SumAmounts(const Event& acc, const Event& next) {
  Event out = next;
  out.amount = acc.amount + next.amount;
  return out;
}

// --- the result sink --------------------------------------------------------------------------

// What every sink subtask adds to: shared with the driver, which reads it after the job.
struct Totals {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> checksum{0};
};

// Counts records and sums field(record), folding a batch locally and publishing once per batch.
template <typename T, auto Field>
class CountingSink {
 public:
  // Shared: each subtask's copy adds to the same totals, read by the driver after the job.
  explicit CountingSink(std::shared_ptr<Totals> totals) : totals_(std::move(totals)) {}

  void writeBatch(const brook::RecordBatch<T>& batch) {
    uint64_t sum = 0;
    for (const auto& r : batch.records) sum += Field(r.value);
    totals_->count.fetch_add(batch.size(), std::memory_order_relaxed);
    totals_->checksum.fetch_add(sum, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<Totals> totals_;
};

inline uint64_t ScoreOf(const Scored& s) { return s.score; }
inline uint64_t AmountOf(const Event& e) { return e.amount; }

// --- running a case ---------------------------------------------------------------------------

struct Settings {
  uint64_t events = 50'000'000;
  uint64_t warmup_events = 1'000'000;
  int runs = 3;  // best of: the machines we run on are shared
  brook::MiniClusterOptions cluster;
};

struct Outcome {
  uint64_t count = 0;
  uint64_t checksum = 0;
  double seconds = 0;      // wall time
  double cpu_seconds = 0;  // CPU time of the whole process (every thread) meanwhile
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

// Builds the job (adding a CountingSink on `totals`) into `env`.
using JobBuilder =
    std::function<void(brook::StreamEnvironment&, uint64_t events, std::shared_ptr<Totals> totals)>;

Outcome RunBrook(const std::string& name, const JobBuilder& build, uint64_t events,
                 const Settings& settings) {
  brook::StreamEnvironment env;
  auto totals = std::make_shared<Totals>();
  build(env, events, totals);
  brook::JobGraph graph = env.BuildJobGraph("bench-" + name);
  brook::MiniCluster cluster(settings.cluster);
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  brook::JobResult result = cluster.Execute(std::move(graph));
  const double seconds = SecondsSince(start);
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  if (!result.ok()) {
    std::fprintf(stderr, "case %s: the Brook job ended %s: %s\n", name.c_str(),
                 brook::JobStatusName(result.status), result.error.c_str());
    std::exit(1);
  }
  return Outcome{totals->count.load(), totals->checksum.load(), seconds, cpu_seconds};
}

// The loops. noinline keeps each one a separate, honestly compiled function.
[[gnu::noinline]] Outcome LoopChained(uint64_t n) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  uint64_t count = 0;
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const Scored m = ToScored(MakeEvent(i));
    if (KeepScored(m)) {
      ++count;
      checksum += ScoreOf(m);
    }
  }
  return Outcome{count, checksum, SecondsSince(start), ProcessCpuSeconds() - cpu_start};
}

[[gnu::noinline]] Outcome LoopKeyedReduce(uint64_t n) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  std::unordered_map<uint64_t, Event> state;
  uint64_t count = 0;
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const Event e = MakeEvent(i);
    auto [it, inserted] = state.try_emplace(UserOf(e), e);
    if (!inserted) it->second = SumAmounts(it->second, e);
    ++count;
    checksum += AmountOf(it->second);
  }
  return Outcome{count, checksum, SecondsSince(start), ProcessCpuSeconds() - cpu_start};
}

void BuildChained(brook::StreamEnvironment& env, uint64_t events, std::shared_ptr<Totals> totals) {
  brook::GeneratorOptions options;
  options.count = events;
  options.num_splits = kSplits;
  env.setParallelism(1);
  auto generate = [](uint64_t i) { return MakeEvent(i); };
  env.fromGenerator("events", generate, options)
      .map([](const Event& e) { return ToScored(e); })
      .filter([](const Scored& s) { return KeepScored(s); })
      .sinkTo(CountingSink<Scored, ScoreOf>(std::move(totals)), "count");
}

void BuildKeyedReduce(brook::StreamEnvironment& env, uint64_t events,
                      std::shared_ptr<Totals> totals) {
  brook::GeneratorOptions options;
  options.count = events;
  options.num_splits = kSplits;
  env.setParallelism(2);
  auto generate = [](uint64_t i) { return MakeEvent(i); };
  env.fromGenerator("events", generate, options)
      .keyBy([](const Event& e) { return UserOf(e); })
      .reduce([](const Event& a, const Event& b) { return SumAmounts(a, b); })
      .sinkTo(CountingSink<Event, AmountOf>(std::move(totals)), "count");
}

struct Case {
  std::string_view name;
  JobBuilder build;
  Outcome (*loop)(uint64_t);
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"chained", BuildChained, LoopChained},
      {"keyed_reduce", BuildKeyedReduce, LoopKeyedReduce},
  };
  return cases;
}

// Runs one case; returns false if Brook's result differs from the loop's.
bool RunCase(const Case& c, const Settings& settings) {
  const std::string name(c.name);
  if (settings.warmup_events > 0) {
    const uint64_t n = std::min(settings.warmup_events, settings.events);
    RunBrook(name, c.build, n, settings);
    c.loop(n);
  }
  Outcome brook;
  Outcome loop;
  for (int r = 0; r < settings.runs; ++r) {
    Outcome b = RunBrook(name, c.build, settings.events, settings);
    Outcome l = c.loop(settings.events);
    std::fprintf(stderr,
                 "case %s run %d: brook %.3f s (cpu %.3f s, count %llu, checksum %llu), "
                 "loop %.3f s (cpu %.3f s)\n",
                 name.c_str(), r + 1, b.seconds, b.cpu_seconds, (unsigned long long)b.count,
                 (unsigned long long)b.checksum, l.seconds, l.cpu_seconds);
    if (r == 0 || b.seconds < brook.seconds) brook = b;
    if (r == 0 || l.seconds < loop.seconds) loop = l;
  }
  const bool match = brook.count == loop.count && brook.checksum == loop.checksum;
  const double brook_rate = double(settings.events) / brook.seconds;
  const double loop_rate = double(settings.events) / loop.seconds;
  std::printf(
      "case=%s brook=%.0f baseline=%.0f ratio=%.3f events=%llu brook_s=%.3f baseline_s=%.3f "
      "brook_cpu_s=%.3f baseline_cpu_s=%.3f count=%llu checksum=%llu match=%s\n",
      name.c_str(), brook_rate, loop_rate, brook_rate / loop_rate,
      (unsigned long long)settings.events, brook.seconds, loop.seconds, brook.cpu_seconds,
      loop.cpu_seconds, (unsigned long long)loop.count, (unsigned long long)loop.checksum,
      match ? "yes" : "no");
  std::fflush(stdout);
  if (!match) {
    std::fprintf(stderr,
                 "case %s: MISMATCH: brook count=%llu checksum=%llu, loop count=%llu "
                 "checksum=%llu\n",
                 name.c_str(), (unsigned long long)brook.count, (unsigned long long)brook.checksum,
                 (unsigned long long)loop.count, (unsigned long long)loop.checksum);
  }
  return match;
}

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr, "error: %s\n", error);
  std::fprintf(stderr,
               "usage: brook_throughput_bench [CASE...] [--events N] [--runs R] [--warmup N]\n"
               "                              [--channel-capacity C] [--batch-size B]\n"
               "cases:");
  for (const auto& c : Cases()) std::fprintf(stderr, " %.*s", int(c.name.size()), c.name.data());
  std::fprintf(stderr, "\n");
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
  std::vector<const Case*> selected;
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
    } else if (arg == "--channel-capacity") {
      settings.cluster.channel_capacity = value("--channel-capacity");
    } else if (arg == "--batch-size") {
      settings.cluster.batch_size = value("--batch-size");
    } else if (arg == "-h" || arg == "--help") {
      Usage("help requested");
    } else if (arg.starts_with("-")) {
      Usage(("unknown flag " + std::string(arg)).c_str());
    } else {
      const Case* found = nullptr;
      for (const auto& c : Cases())
        if (c.name == arg) found = &c;
      if (!found) Usage(("unknown case " + std::string(arg)).c_str());
      selected.push_back(found);
    }
  }
  if (selected.empty())
    for (const auto& c : Cases()) selected.push_back(&c);

  bool ok = true;
  try {
    for (const Case* c : selected) ok = RunCase(*c, settings) && ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return ok ? 0 : 1;
}
