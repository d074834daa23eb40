// The configuration keys of brook-jobmanager and brook-taskmanager: the one place a key is
// declared, with its type, default, range and the description --help prints. A new key goes
// here and is read through Config's typed getters (usually in settings.cc).
#include <cstdint>
#include <limits>
#include <vector>

#include "brook/cluster/server/config.h"

namespace brook::server {
namespace {

constexpr double kPortMax = 65535;
constexpr double kIntMax = double(std::numeric_limits<int32_t>::max());

std::vector<ConfigOption> BrookOptions() {
  using enum ConfigType;
  constexpr auto kJm = ConfigScope::kJobManager;
  constexpr auto kTm = ConfigScope::kTaskManager;
  constexpr auto kAll = ConfigScope::kBoth;
  // One entry per key, as a table.
  // clang-format off
  return {
      // The job manager's endpoints.
      {"rest.address", kString, "127.0.0.1",
       "Address the REST API and web status page bind to. Anything but loopback needs "
       "cluster.token.", kJm},
      {"rest.port", kInt, "8081",
       "Port of the REST API and web status page; 0: any free port.", kJm, 0, kPortMax},
      {"rpc.address", kString, "127.0.0.1",
       "Address the job manager's control endpoint binds to. Anything but loopback needs "
       "cluster.token.", kJm},
      {"rpc.port", kInt, "6123",
       "Port of the job manager's control endpoint; 0: any free port.", kJm, 0, kPortMax},

      // Both processes.
      {"cluster.token", kString, "",
       "Shared secret that task managers and the CLI present on every connection and mutating "
       "REST call. Empty: none (allowed only on loopback addresses).", kAll},
      {"heartbeat.interval", kDuration, "10s",
       "How often the job manager and task managers exchange heartbeats.", kAll},
      {"heartbeat.timeout", kDuration, "50s",
       "A peer silent this long is considered dead: its subtasks fail and the restart strategy "
       "runs.", kAll},
      {"blob.storage.directory", kString, "",
       "Directory of the blob store (uploaded job libraries on the job manager, fetched ones on "
       "a task manager). Empty: a fresh directory under the system's temporary directory.", kAll},
      {"blob.max-size", kSize, "256mb", "The largest job library accepted.", kAll},
      {"state.checkpoints.dir", kString, "",
       "Directory of the checkpoints of every job (task managers write into it too: a directory "
       "they share). Empty: 'checkpoints' next to the blob store.", kJm},
      {"state.checkpoints.num-retained", kInt, "3", "Completed checkpoints kept per job.", kJm, 1,
       1000},
      {"log.level", kString, "info", "Least severe log messages written.", kAll, 0, 0,
       {"trace", "debug", "info", "warn", "error", "off"}},

      // Restart strategies (restart_strategy.h).
      {"restart-strategy.type", kString, "exponential-delay",
       "What to do when a job fails: none (fail the job), fixed-delay, exponential-delay or "
       "failure-rate.", kJm, 0, 0,
       {"none", "fixed-delay", "exponential-delay", "failure-rate"}},
      {"restart-strategy.fixed-delay.attempts", kInt, "1",
       "fixed-delay: restarts before the job fails.", kJm, 0, kIntMax},
      {"restart-strategy.fixed-delay.delay", kDuration, "1s",
       "fixed-delay: wait before each restart.", kJm},
      {"restart-strategy.exponential-delay.initial-backoff", kDuration, "1s",
       "exponential-delay: wait before the first restart.", kJm},
      {"restart-strategy.exponential-delay.max-backoff", kDuration, "1min",
       "exponential-delay: the longest wait.", kJm},
      {"restart-strategy.exponential-delay.backoff-multiplier", kDouble, "1.5",
       "exponential-delay: each wait is the previous one times this.", kJm, 1, 1000},
      {"restart-strategy.exponential-delay.reset-backoff-threshold", kDuration, "1h",
       "exponential-delay: a job that runs this long without failing starts over at the initial "
       "backoff.", kJm},
      {"restart-strategy.exponential-delay.jitter-factor", kDouble, "0.1",
       "exponential-delay: each wait varies randomly by up to this fraction, so that many jobs "
       "do not restart in lock step.", kJm, 0, 1},
      {"restart-strategy.exponential-delay.attempts-before-reset-backoff", kInt, "2147483647",
       "exponential-delay: restarts without a reset before the job fails.", kJm, 0, kIntMax},
      {"restart-strategy.failure-rate.max-failures-per-interval", kInt, "1",
       "failure-rate: restarts allowed within one interval; one more fails the job.", kJm, 1,
       kIntMax},
      {"restart-strategy.failure-rate.failure-rate-interval", kDuration, "1min",
       "failure-rate: the interval failures are counted in.", kJm},
      {"restart-strategy.failure-rate.delay", kDuration, "1s",
       "failure-rate: wait before each restart.", kJm},

      // Metrics.
      {"metrics.latency.interval", kDuration, "0ms",
       "How often sources emit latency markers, which sinks record as end-to-end latency "
       "histograms (per source) in the metrics, for jobs that do not set their own interval "
       "(env.setLatencyTrackingInterval); 0: off.", kJm},

      // Scheduling.
      {"scheduler.slot-wait-timeout", kDuration, "5min",
       "How long a job waits for enough free slots before it fails.", kJm},

      // The task manager.
      {"taskmanager.jobmanager", kHostPort, "",
       "host:port of the job manager's control endpoint (its rpc.address and rpc.port).", kTm},
      {"taskmanager.id", kString, "",
       "Id of this task manager, unique in the cluster (logs, REST, metrics). Empty: made up "
       "at start.", kTm},
      {"taskmanager.slots", kInt, "1",
       "Slots this task manager offers; a slot runs one subtask of every vertex of a job.", kTm,
       1, 1024},
      {"taskmanager.data.port", kInt, "0",
       "Port of the task manager's data endpoint; 0: any free port.", kTm, 0, kPortMax},
      {"taskmanager.host", kString, "127.0.0.1",
       "Address the task manager binds to and announces to the job manager and its peers.", kTm},
      {"taskmanager.working-dir", kString, "",
       "Directory for the task manager's files (state, spilled data). Empty: a fresh directory "
       "under the system's temporary directory.", kTm},
      {"taskmanager.metrics.port", kInt, "0",
       "Port of the task manager's Prometheus endpoint; 0: none.", kTm, 0, kPortMax},
      {"network.buffer-size", kSize, "32kb",
       "Size of the buffers records are batched into between task managers.", kTm},
      {"network.buffer-timeout", kDuration, "100ms",
       "The longest a partly filled buffer waits before it is sent (bounds latency); 0: send "
       "after every record.", kTm},
      {"network.credits-per-channel", kInt, "32",
       "Buffers a consumer grants each producer in another task manager (credit-based flow "
       "control). More keep a fast channel busy across the credit round trip; each may hold "
       "one buffer of memory at the consumer.", kTm, 2, 1024},
  };
  // clang-format on
}

}  // namespace

const ConfigSchema& BrookConfigSchema() {
  static const ConfigSchema schema(BrookOptions());
  return schema;
}

}  // namespace brook::server
