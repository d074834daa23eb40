// Restart strategies: what the job manager does when a job fails (a task threw, a task manager
// died). As in Flink, a strategy is told of each failure and answers with the delay before the
// job restarts from its latest checkpoint, or with "give up", and the job is FAILED.
//
//   none               never restart.
//   fixed-delay        restart `attempts` times, each after `delay`; the next failure gives up.
//   exponential-delay  wait initial-backoff, then multiply the wait by backoff-multiplier up to
//                      max-backoff. A job that ran reset-backoff-threshold without failing
//                      (counted from its restart) starts over at initial-backoff. Each wait is
//                      varied by up to ±jitter-factor of itself (seeded, so tests are exact).
//                      Gives up after attempts-before-reset-backoff restarts without a reset.
//   failure-rate       restart after `delay` while at most max-failures-per-interval failures
//                      fall within the last failure-rate-interval; one more gives up.
//
// Once a strategy has given up it keeps answering nullopt. Time is passed in, never read, so
// tests drive strategies with made-up time points.
//
// Threading: a strategy is plain state for one job; the job manager calls it under its lock.
// Life cycle: one strategy per job, made when the job is submitted, kept across its restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "brook/cluster/server/result.h"

namespace brook::server {

class Config;

// The restart strategy options of a Config, checked.
struct RestartStrategySettings {
  enum class Kind { kNone, kFixedDelay, kExponentialDelay, kFailureRate };
  using Millis = std::chrono::milliseconds;

  Kind kind = Kind::kExponentialDelay;
  // fixed-delay
  int64_t fixed_delay_attempts = 1;
  Millis fixed_delay{1000};
  // exponential-delay
  Millis initial_backoff{1000};
  Millis max_backoff{60'000};
  double backoff_multiplier = 1.5;
  Millis reset_backoff_threshold{3'600'000};
  double jitter_factor = 0.1;
  int64_t attempts_before_reset_backoff = INT32_MAX;
  // failure-rate
  int64_t max_failures_per_interval = 1;
  Millis failure_rate_interval{60'000};
  Millis failure_rate_delay{1000};

  // The restart-strategy.* keys of `config`; kInvalidConfig if they contradict each other
  // (max-backoff below initial-backoff).
  static Result<RestartStrategySettings> FromConfig(const Config& config);
};

class RestartStrategy {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  virtual ~RestartStrategy() = default;

  // Records a failure at `now` (not earlier than the previous one) and answers how long to
  // wait before restarting, or nullopt: give up, the job fails.
  virtual std::optional<std::chrono::milliseconds> OnFailure(TimePoint now) = 0;
  // For logs and the REST API, e.g. "fixed-delay (3 attempts, 10s delay)".
  virtual std::string Describe() const = 0;

  // A fresh strategy for one job. `jitter_seed` seeds exponential-delay's jitter.
  static std::unique_ptr<RestartStrategy> Make(const RestartStrategySettings& settings,
                                               uint64_t jitter_seed);
};

}  // namespace brook::server
