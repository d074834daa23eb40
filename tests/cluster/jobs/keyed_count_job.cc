// A job for the cluster tests: a replayable generator of `events` records over `keys` keys,
// keyed running counts, written by a file sink as "key count" lines (one per update, so the
// output of a correct run holds, for every key, the lines 1..n exactly once).
//
//   brook run libkeyed_count.so -p 4 -- --events 200000 --keys 100 --rate 50000 --output DIR
//        [--checkpoint-interval MS [--unaligned]]   (exactly-once: checkpoints and a
//                                                    two-phase-commit file sink)
//        [--latency-interval MS]                    (latency markers from the source)
//        [--window-output DIR [--window MS]]        (also event-time tumbling windows, event
//                                                    time = the record's index in ms, counted
//                                                    per key as "key window-end count" lines;
//                                                    needs --checkpoint-interval)
#include <brook/brook.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace {

struct KeyCount {
  uint64_t key = 0;
  uint64_t count = 0;
  uint64_t index = 0;  // of the generated record (of the latest, after the reduce)
};

struct WindowCount {
  uint64_t key = 0;
  brook::Timestamp window_end = 0;
  uint64_t count = 0;
};

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::ostream& operator<<(std::ostream& out, const KeyCount& c) { return out << c.key << ' ' << c.count; }
std::ostream& operator<<(std::ostream& out, const WindowCount& w) {
  return out << w.key << ' ' << w.window_end << ' ' << w.count;
}

}  // namespace

BROOK_JOB(keyed_count) {
  brook::GeneratorOptions options;
  options.count = uint64_t(args.GetInt("events", 100'000));
  options.records_per_second = double(args.GetInt("rate", 0));
  const uint64_t keys = uint64_t(args.GetInt("keys", 100));
  const std::string output = args.Get("output", "/tmp/brook-keyed-count");

  const int64_t checkpoint_interval = args.GetInt("checkpoint-interval", 0);
  if (checkpoint_interval > 0)
    env.enableCheckpointing(checkpoint_interval, args.Has("unaligned")
                                                     ? brook::CheckpointingMode::kUnaligned
                                                     : brook::CheckpointingMode::kAligned);
  if (const int64_t timeout = args.GetInt("checkpoint-timeout", 0); timeout > 0)
    env.getCheckpointConfig().timeout_ms = timeout;
  if (args.Has("latency-interval")) env.setLatencyTrackingInterval(args.GetInt("latency-interval", 0));

  auto numbers =
      env.fromGenerator("numbers", [keys](uint64_t i) { return KeyCount{Mix(i) % keys, 1, i}; }, options)
          .uid("numbers");
  auto counts =
      numbers.keyBy([](const KeyCount& c) { return c.key; })
          .reduce([](const KeyCount& a, const KeyCount& b) {
            return KeyCount{a.key, a.count + b.count, b.index};
          })
          .name("count per key")
          .uid("count-per-key");
  if (args.Has("window-output") && checkpoint_interval > 0) {
    const std::string window_output = args.Get("window-output", "");
    const int64_t window_ms = args.GetInt("window", 1000);
    // Generous out-of-orderness: after a rescale a subtask's splits resume at offsets a little
    // apart, so its records are not quite in index order; none may be late.
    numbers
        .assignTimestampsAndWatermarks(
            brook::WatermarkStrategy<KeyCount>::forBoundedOutOfOrderness(2000).withTimestampAssigner(
                [](const KeyCount& c) { return brook::Timestamp(c.index); }))
        .uid("timestamps")
        .keyBy([](const KeyCount& c) { return c.key; })
        .window(brook::TumblingEventTimeWindows::of(window_ms))
        .reduce([](const KeyCount& a, const KeyCount& b) { return KeyCount{a.key, a.count + b.count, b.index}; },
                [](const uint64_t& key, const brook::TimeWindow& w, const KeyCount& sum) {
                  return WindowCount{key, w.end, sum.count};
                })
        .name("count per key and window")
        .uid("count-per-window")
        .sinkToOperator("window counts", [window_output] {
          return std::make_unique<brook::ExactlyOnceFileSink<WindowCount>>(window_output);
        })
        .uid("window-counts");
  }
  if (checkpoint_interval > 0)
    counts.sinkToOperator("counts", [output] {
      return std::make_unique<brook::ExactlyOnceFileSink<KeyCount>>(output);
    });
  else
    counts.sinkTo(brook::FileSink<KeyCount>(output), "counts");
}
