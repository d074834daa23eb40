// The checkpoint benchmark's job: see checkpoint_bench_job.h.
#include "checkpoint_bench_job.h"

#include <brook/brook.h>

#include <array>
#include <string>

#include "bench_util.h"

namespace brook_bench {

CheckpointBenchTotals& GlobalCheckpointBenchTotals() {
  static CheckpointBenchTotals totals;
  return totals;
}

namespace {

constexpr auto Mix = brook::bench::SplitMix64;

struct Event {
  uint64_t key;
  uint64_t index;
};

// Per key and window: 14 counters, 112 bytes (trivially copyable: Serde's memcpy path).
struct Profile {
  uint64_t count;
  uint64_t index_sum;
  std::array<uint64_t, 12> buckets;  // events by index % 12
};
static_assert(sizeof(Profile) == 112);

// A window's result: its count and a digest of its accumulator.
struct Summary {
  uint64_t count;
  uint64_t digest;
};

struct Summarize {
  using Acc = Profile;
  using Out = Summary;
  Acc CreateAccumulator() const { return Profile{}; }
  void Add(const Event& e, Acc& acc) const {
    ++acc.count;
    acc.index_sum += e.index;
    ++acc.buckets[e.index % 12];
  }
  Out GetResult(const Acc& acc) const {
    uint64_t digest = Mix(acc.index_sum);
    for (uint64_t b : acc.buckets) digest = Mix(digest ^ b);
    return Summary{acc.count, digest};
  }
  void Merge(const Acc& from, Acc& into) const {
    into.count += from.count;
    into.index_sum += from.index_sum;
    for (size_t i = 0; i < into.buckets.size(); ++i) into.buckets[i] += from.buckets[i];
  }
};

struct WindowResult {
  uint64_t key;
  uint64_t count;
  uint64_t digest;
};

class TotalsSink {
 public:
  void writeBatch(const brook::RecordBatch<WindowResult>& batch) {
    uint64_t events = 0, checksum = 0;
    for (const auto& r : batch.records) {
      events += r.value.count;
      checksum += Mix(r.value.key * 1'000'003 + r.value.count) ^ r.value.digest;
    }
    CheckpointBenchTotals& totals = GlobalCheckpointBenchTotals();
    totals.windows.fetch_add(batch.size(), std::memory_order_relaxed);
    totals.events.fetch_add(events, std::memory_order_relaxed);
    totals.checksum.fetch_add(checksum, std::memory_order_relaxed);
  }
};

constexpr int64_t kDay = 86'400'000;

}  // namespace
}  // namespace brook_bench

BROOK_JOB(checkpoint_bench) {
  using namespace brook_bench;
  brook::GeneratorOptions options;
  options.count = uint64_t(args.GetInt("events", 20'000'000));
  options.records_per_second = double(args.GetInt("rate", 0));
  const uint64_t keys = uint64_t(args.GetInt("keys", int64_t{1} << 23));
  if (const int64_t interval = args.GetInt("checkpoint-interval", 0); interval > 0)
    env.enableCheckpointing(interval);
  if (args.Get("backend", "memory") == "lmdb")
    env.setStateBackend({brook::StateBackendKind::kLmdb, args.Get("lmdb-dir", "/tmp/brook-state")});

  // Event time: 1,000 events per ms, far inside one day: the window holds every event.
  env.fromGenerator(
         "events",
         [keys](uint64_t i) { return Event{i < keys ? i : Mix(i) % keys, i}; }, options,
         [](const Event& e) { return int64_t(e.index / 1000); })
      .uid("events")
      .assignTimestampsAndWatermarks(brook::WatermarkStrategy<Event>::forBoundedOutOfOrderness(1000))
      .keyBy([](const Event& e) { return e.key; })
      .window(brook::TumblingEventTimeWindows::of(kDay))
      .aggregate(Summarize{},
                 [](const uint64_t& key, const brook::TimeWindow&, const Summary& s) {
                   return WindowResult{key, s.count, s.digest};
                 })
      .name("profile per key")
      .uid("profile-per-key")
      .sinkTo(TotalsSink(), "totals");
}
