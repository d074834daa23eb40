#include "brook/cluster/server/restart_strategy.h"

#include <gtest/gtest.h>

#include "brook/cluster/server/config.h"

namespace brook::server {
namespace {

using std::chrono::milliseconds;
using Kind = RestartStrategySettings::Kind;
using Delays = std::vector<std::optional<milliseconds>>;

// Fake time: a fixed origin plus milliseconds.
RestartStrategy::TimePoint At(int64_t ms) {
  return RestartStrategy::TimePoint{} + milliseconds(ms);
}

// Failures at the given times; the answers.
Delays Fail(RestartStrategy& strategy, std::initializer_list<int64_t> times) {
  Delays delays;
  for (int64_t time : times) delays.push_back(strategy.OnFailure(At(time)));
  return delays;
}

std::optional<milliseconds> Ms(int64_t ms) { return milliseconds(ms); }
constexpr std::nullopt_t kGiveUp = std::nullopt;

TEST(RestartStrategy, NoneGivesUpAtOnce) {
  RestartStrategySettings settings;
  settings.kind = Kind::kNone;
  auto strategy = RestartStrategy::Make(settings, 1);
  EXPECT_EQ(Fail(*strategy, {0, 100}), (Delays{kGiveUp, kGiveUp}));
  EXPECT_EQ(strategy->Describe(), "none (a failure fails the job)");
}

TEST(RestartStrategy, FixedDelayRestartsAttemptsTimesThenGivesUp) {
  RestartStrategySettings settings;
  settings.kind = Kind::kFixedDelay;
  settings.fixed_delay_attempts = 3;
  settings.fixed_delay = milliseconds(10'000);
  auto strategy = RestartStrategy::Make(settings, 1);
  EXPECT_EQ(Fail(*strategy, {0, 20'000, 40'000, 60'000, 10'000'000}),
            (Delays{Ms(10'000), Ms(10'000), Ms(10'000), kGiveUp, kGiveUp}));
  EXPECT_EQ(strategy->Describe(), "fixed-delay (3 attempts, 10s delay)");
}

TEST(RestartStrategy, FixedDelayWithZeroAttemptsNeverRestarts) {
  RestartStrategySettings settings;
  settings.kind = Kind::kFixedDelay;
  settings.fixed_delay_attempts = 0;
  EXPECT_EQ(Fail(*RestartStrategy::Make(settings, 1), {0}), (Delays{kGiveUp}));
}

RestartStrategySettings Exponential() {
  RestartStrategySettings settings;
  settings.kind = Kind::kExponentialDelay;
  settings.initial_backoff = milliseconds(1000);
  settings.max_backoff = milliseconds(10'000);
  settings.backoff_multiplier = 2;
  settings.reset_backoff_threshold = milliseconds(60'000);
  settings.jitter_factor = 0;
  return settings;
}

TEST(RestartStrategy, ExponentialDelayDoublesUpToTheMaximum) {
  auto strategy = RestartStrategy::Make(Exponential(), 1);
  // Each failure soon after the restart: 1s, 2s, 4s, 8s, then capped at 10s.
  EXPECT_EQ(Fail(*strategy, {0, 2000, 5000, 10'000, 19'000, 30'000}),
            (Delays{Ms(1000), Ms(2000), Ms(4000), Ms(8000), Ms(10'000), Ms(10'000)}));
}

TEST(RestartStrategy, ExponentialDelayResetsAfterRunningLongEnough) {
  auto strategy = RestartStrategy::Make(Exponential(), 1);
  EXPECT_EQ(Fail(*strategy, {0, 1000, 3000}), (Delays{Ms(1000), Ms(2000), Ms(4000)}));
  // Restarted at 7000; ran 59.999s: no reset. Then restarted at 7000 + 59'999 + 8000 and ran
  // exactly the threshold: reset.
  EXPECT_EQ(Fail(*strategy, {66'999}), (Delays{Ms(8000)}));
  EXPECT_EQ(Fail(*strategy, {74'999 + 60'000}), (Delays{Ms(1000)}));
  EXPECT_EQ(Fail(*strategy, {136'000}), (Delays{Ms(2000)}));
}

TEST(RestartStrategy, ExponentialDelayGivesUpAfterAttemptsBeforeReset) {
  RestartStrategySettings settings = Exponential();
  settings.attempts_before_reset_backoff = 2;
  auto strategy = RestartStrategy::Make(settings, 1);
  EXPECT_EQ(Fail(*strategy, {0, 1000, 3000, 1'000'000}),
            (Delays{Ms(1000), Ms(2000), kGiveUp, kGiveUp}));
}

TEST(RestartStrategy, ExponentialJitterStaysInBoundsAndIsSeeded) {
  RestartStrategySettings settings = Exponential();
  settings.jitter_factor = 0.5;
  settings.max_backoff = milliseconds(100'000);
  auto first = RestartStrategy::Make(settings, 42);
  auto same_seed = RestartStrategy::Make(settings, 42);
  auto other_seed = RestartStrategy::Make(settings, 43);
  bool any_difference = false;
  int64_t base = 1000;
  for (int i = 0; i < 6; ++i) {
    const int64_t now = i * 1000;  // every failure right after the last: no reset
    auto delay = first->OnFailure(At(now));
    ASSERT_TRUE(delay);
    EXPECT_GE(delay->count(), base / 2) << i;
    EXPECT_LE(delay->count(), base + base / 2) << i;
    EXPECT_EQ(same_seed->OnFailure(At(now)), delay);
    any_difference |= other_seed->OnFailure(At(now)) != delay;
    base *= 2;
  }
  EXPECT_TRUE(any_difference);
}

RestartStrategySettings FailureRate() {
  RestartStrategySettings settings;
  settings.kind = Kind::kFailureRate;
  settings.max_failures_per_interval = 3;
  settings.failure_rate_interval = milliseconds(60'000);
  settings.failure_rate_delay = milliseconds(500);
  return settings;
}

TEST(RestartStrategy, FailureRateAllowsMaxFailuresPerInterval) {
  auto strategy = RestartStrategy::Make(FailureRate(), 1);
  // Three within a minute restart; a fourth within the same minute gives up.
  EXPECT_EQ(Fail(*strategy, {0, 10'000, 20'000, 59'999}),
            (Delays{Ms(500), Ms(500), Ms(500), kGiveUp}));
  EXPECT_EQ(Fail(*strategy, {10'000'000}), (Delays{kGiveUp}));
  EXPECT_EQ(strategy->Describe(), "failure-rate (at most 3 failures per 1min, 500ms delay)");
}

TEST(RestartStrategy, FailureRateForgetsFailuresOlderThanTheInterval) {
  auto strategy = RestartStrategy::Make(FailureRate(), 1);
  // At 60'001 the failure at 0 is older than a minute: three in the window again.
  EXPECT_EQ(Fail(*strategy, {0, 10'000, 20'000, 60'001, 70'001, 80'001, 130'000}),
            (Delays{Ms(500), Ms(500), Ms(500), Ms(500), Ms(500), Ms(500), Ms(500)}));
  // 130'000, plus 70'001 and 80'001 inside the window, plus this: four.
  EXPECT_EQ(Fail(*strategy, {130'001}), (Delays{kGiveUp}));
}

TEST(RestartStrategySettings, ReadFromConfig) {
  Config config;
  ASSERT_TRUE(config.MergeYamlText(
      "restart-strategy:\n  type: failure-rate\n  failure-rate:\n"
      "    max-failures-per-interval: 5\n    failure-rate-interval: 2min\n    delay: 3s\n",
      "restart.yaml"));
  auto settings = RestartStrategySettings::FromConfig(config);
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings.value().kind, Kind::kFailureRate);
  EXPECT_EQ(settings.value().max_failures_per_interval, 5);
  EXPECT_EQ(settings.value().failure_rate_interval, milliseconds(120'000));
  EXPECT_EQ(settings.value().failure_rate_delay, milliseconds(3000));
  EXPECT_EQ(RestartStrategy::Make(settings.value(), 1)->Describe(),
            "failure-rate (at most 5 failures per 2min, 3s delay)");
}

TEST(RestartStrategySettings, DefaultIsExponentialDelayAsInFlink) {
  auto settings = RestartStrategySettings::FromConfig(Config());
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings.value().kind, Kind::kExponentialDelay);
  EXPECT_EQ(settings.value().initial_backoff, milliseconds(1000));
  EXPECT_EQ(settings.value().max_backoff, milliseconds(60'000));
  EXPECT_DOUBLE_EQ(settings.value().backoff_multiplier, 1.5);
}

TEST(RestartStrategySettings, MaxBackoffBelowInitialIsAnError) {
  Config config;
  ASSERT_TRUE(config.MergeSetFlag("restart-strategy.exponential-delay.max-backoff=500ms"));
  auto settings = RestartStrategySettings::FromConfig(config);
  ASSERT_FALSE(settings);
  EXPECT_EQ(settings.error().message,
            "invalid value '500ms' for restart-strategy.exponential-delay.max-backoff (from flag "
            "--set restart-strategy.exponential-delay.max-backoff=500ms): must not be shorter "
            "than restart-strategy.exponential-delay.initial-backoff (1s)");
}

}  // namespace
}  // namespace brook::server
