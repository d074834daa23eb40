#include "brook/cluster/server/restart_strategy.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>

#include "brook/cluster/server/config.h"

namespace brook::server {
namespace {

using Millis = std::chrono::milliseconds;

class NoRestartStrategy final : public RestartStrategy {
 public:
  std::optional<Millis> OnFailure(TimePoint) override { return std::nullopt; }
  std::string Describe() const override { return "none (a failure fails the job)"; }
};

class FixedDelayRestartStrategy final : public RestartStrategy {
 public:
  FixedDelayRestartStrategy(int64_t attempts, Millis delay) : attempts_(attempts), delay_(delay) {}

  std::optional<Millis> OnFailure(TimePoint) override {
    if (restarts_ >= attempts_) return std::nullopt;
    ++restarts_;
    return delay_;
  }
  std::string Describe() const override {
    return "fixed-delay (" + std::to_string(attempts_) + " attempts, " + FormatDuration(delay_) +
           " delay)";
  }

 private:
  const int64_t attempts_;
  const Millis delay_;
  int64_t restarts_ = 0;
};

class ExponentialDelayRestartStrategy final : public RestartStrategy {
 public:
  ExponentialDelayRestartStrategy(const RestartStrategySettings& settings, uint64_t seed)
      : settings_(settings), random_(seed) {}

  std::optional<Millis> OnFailure(TimePoint now) override {
    if (gave_up_) return std::nullopt;
    // The job has run since last_failure_ + last_delay_ (its restart).
    const bool ran_long_enough =
        !last_failure_ || now - (*last_failure_ + last_delay_) >= settings_.reset_backoff_threshold;
    if (ran_long_enough) {
      backoff_ = settings_.initial_backoff;
      restarts_since_reset_ = 0;
    } else {
      backoff_ = std::min(
          Millis(int64_t(std::min<double>(double(backoff_.count()) * settings_.backoff_multiplier,
                                          double(settings_.max_backoff.count())))),
          settings_.max_backoff);
    }
    last_failure_ = now;
    if (restarts_since_reset_ >= settings_.attempts_before_reset_backoff) {
      gave_up_ = true;
      return std::nullopt;
    }
    ++restarts_since_reset_;
    last_delay_ = WithJitter(backoff_);
    return last_delay_;
  }

  std::string Describe() const override {
    std::string text = "exponential-delay (" + FormatDuration(settings_.initial_backoff) +
                       " initial, " + FormatDuration(settings_.max_backoff) + " max, x" +
                       std::to_string(settings_.backoff_multiplier) + ", reset after " +
                       FormatDuration(settings_.reset_backoff_threshold) + " without failure";
    if (settings_.attempts_before_reset_backoff < INT32_MAX) {
      text += ", at most " + std::to_string(settings_.attempts_before_reset_backoff) +
              " attempts before a reset";
    }
    return text + ")";
  }

 private:
  // backoff ± jitter_factor * backoff, uniformly, never above max_backoff. The backoff itself
  // stays unjittered, so jitter does not compound from one restart to the next.
  Millis WithJitter(Millis backoff) {
    const double spread = double(backoff.count()) * settings_.jitter_factor;
    if (spread < 1) return backoff;
    // 53 random bits as a fraction in [0, 1): the same sequence on every standard library.
    const double unit = double(random_() >> 11) * 0x1.0p-53;
    const double jittered = double(backoff.count()) + (2 * unit - 1) * spread;
    return std::clamp(Millis(std::llround(jittered)), Millis(0), settings_.max_backoff);
  }

  const RestartStrategySettings settings_;
  std::mt19937_64 random_;
  std::optional<TimePoint> last_failure_;
  Millis last_delay_{0};
  Millis backoff_{0};
  int64_t restarts_since_reset_ = 0;
  bool gave_up_ = false;
};

class FailureRateRestartStrategy final : public RestartStrategy {
 public:
  FailureRateRestartStrategy(int64_t max_failures, Millis interval, Millis delay)
      : max_failures_(max_failures), interval_(interval), delay_(delay) {}

  std::optional<Millis> OnFailure(TimePoint now) override {
    if (gave_up_) return std::nullopt;
    failures_.push_back(now);
    while (now - failures_.front() > interval_) failures_.pop_front();
    if (int64_t(failures_.size()) > max_failures_) {
      gave_up_ = true;
      return std::nullopt;
    }
    return delay_;
  }
  std::string Describe() const override {
    return "failure-rate (at most " + std::to_string(max_failures_) + " failures per " +
           FormatDuration(interval_) + ", " + FormatDuration(delay_) + " delay)";
  }

 private:
  const int64_t max_failures_;
  const Millis interval_;
  const Millis delay_;
  std::deque<TimePoint> failures_;  // within the last interval_, oldest first
  bool gave_up_ = false;
};

}  // namespace

Result<RestartStrategySettings> RestartStrategySettings::FromConfig(const Config& config) {
  RestartStrategySettings settings;
  const std::string prefix = "restart-strategy.";
  auto type = config.GetString(prefix + "type");
  if (!type) return type.error();
  if (type.value() == "none") {
    settings.kind = Kind::kNone;
  } else if (type.value() == "fixed-delay") {
    settings.kind = Kind::kFixedDelay;
  } else if (type.value() == "exponential-delay") {
    settings.kind = Kind::kExponentialDelay;
  } else {
    settings.kind = Kind::kFailureRate;
  }

  // Every key is read (and so checked) whichever kind is chosen: a bad value is reported even
  // if it would not be used yet.
  const std::string fixed = prefix + "fixed-delay.";
  const std::string exponential = prefix + "exponential-delay.";
  const std::string rate = prefix + "failure-rate.";
  std::optional<ServerError> error;
  auto read = [&](auto result, auto& field) {
    if (error) return;
    if (!result) {
      error = result.error();
    } else {
      field = result.value();
    }
  };
  read(config.GetInt(fixed + "attempts"), settings.fixed_delay_attempts);
  read(config.GetDuration(fixed + "delay"), settings.fixed_delay);
  read(config.GetDuration(exponential + "initial-backoff"), settings.initial_backoff);
  read(config.GetDuration(exponential + "max-backoff"), settings.max_backoff);
  read(config.GetDouble(exponential + "backoff-multiplier"), settings.backoff_multiplier);
  read(config.GetDuration(exponential + "reset-backoff-threshold"),
       settings.reset_backoff_threshold);
  read(config.GetDouble(exponential + "jitter-factor"), settings.jitter_factor);
  read(config.GetInt(exponential + "attempts-before-reset-backoff"),
       settings.attempts_before_reset_backoff);
  read(config.GetInt(rate + "max-failures-per-interval"), settings.max_failures_per_interval);
  read(config.GetDuration(rate + "failure-rate-interval"), settings.failure_rate_interval);
  read(config.GetDuration(rate + "delay"), settings.failure_rate_delay);
  if (error) return *error;

  if (settings.max_backoff < settings.initial_backoff) {
    return config.ValueError(exponential + "max-backoff",
                             "must not be shorter than " + exponential + "initial-backoff (" +
                                 FormatDuration(settings.initial_backoff) + ")");
  }
  if (settings.failure_rate_interval.count() == 0) {
    return config.ValueError(rate + "failure-rate-interval", "must be longer than 0");
  }
  return settings;
}

std::unique_ptr<RestartStrategy> RestartStrategy::Make(const RestartStrategySettings& settings,
                                                       uint64_t jitter_seed) {
  using Kind = RestartStrategySettings::Kind;
  switch (settings.kind) {
    case Kind::kNone:
      return std::make_unique<NoRestartStrategy>();
    case Kind::kFixedDelay:
      return std::make_unique<FixedDelayRestartStrategy>(settings.fixed_delay_attempts,
                                                         settings.fixed_delay);
    case Kind::kExponentialDelay:
      return std::make_unique<ExponentialDelayRestartStrategy>(settings, jitter_seed);
    case Kind::kFailureRate:
      return std::make_unique<FailureRateRestartStrategy>(settings.max_failures_per_interval,
                                                          settings.failure_rate_interval,
                                                          settings.failure_rate_delay);
  }
  return std::make_unique<NoRestartStrategy>();
}

}  // namespace brook::server
