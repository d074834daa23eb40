// The job of the checkpoint benchmark (checkpoint_bench.cc), shared by the benchmark binary,
// which runs it on a job manager and task manager in its own process, and by the job library
// libbrook_checkpoint_bench_job.so, which real task managers load for the recovery measurement.
//
// A keyed window job with big keyed state: events over `keys` keys (the first `keys` events
// visit every key once, the rest pick keys uniformly at random), a tumbling event-time window
// longer than the run, so every key holds one open window whose accumulator (CheckpointBenchAcc,
// 112 bytes) lives in keyed state until the input ends; then every window fires once. Keyed
// state is keys x 128 bytes in the portable snapshot format (8-byte key, 8-byte namespace,
// 112-byte value).
//
// Job arguments (after `--`):
//   --events N               events (default 20M)
//   --keys K                 keys (default 8,388,608: 1 GiB of keyed state)
//   --checkpoint-interval MS checkpoints every MS ms (0, the default: none)
//   --backend memory|lmdb    state backend (default memory)
//   --lmdb-dir DIR           the LMDB backend's working directory (default /tmp/brook-state)
//   --rate R                 events per second per source subtask (0, the default: unlimited)
#pragma once

#include <atomic>
#include <cstdint>

namespace brook_bench {

inline constexpr uint64_t kCheckpointBenchStateBytesPerKey = 128;

// What the window results fold into, in the process that runs the sink.
struct CheckpointBenchTotals {
  std::atomic<uint64_t> windows{0};
  std::atomic<uint64_t> events{0};    // the windows' counts, summed
  std::atomic<uint64_t> checksum{0};  // a fingerprint per window (key, count, digest), summed
  void Reset() {
    windows = 0;
    events = 0;
    checksum = 0;
  }
};
CheckpointBenchTotals& GlobalCheckpointBenchTotals();

}  // namespace brook_bench
