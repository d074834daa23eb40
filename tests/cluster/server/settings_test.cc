#include "brook/cluster/server/settings.h"

#include <gtest/gtest.h>

namespace brook::server {
namespace {

using std::chrono::milliseconds;

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(JobManagerSettings, DefaultsAreLoopbackAndFlinksValues) {
  auto settings = JobManagerSettings::FromConfig(Config());
  ASSERT_TRUE(settings) << settings.error().message;
  const JobManagerSettings& jm = settings.value();
  EXPECT_EQ(jm.rest_address, "127.0.0.1");
  EXPECT_EQ(jm.rest_port, 8081);
  EXPECT_EQ(jm.rpc_port, 6123);
  EXPECT_EQ(jm.heartbeat.interval, milliseconds(10'000));
  EXPECT_EQ(jm.heartbeat.timeout, milliseconds(50'000));
  EXPECT_EQ(jm.blob_max_bytes, 256u << 20);
  EXPECT_EQ(jm.slot_wait_timeout, milliseconds(300'000));
  EXPECT_EQ(jm.restart_strategy.kind, RestartStrategySettings::Kind::kExponentialDelay);
  EXPECT_EQ(jm.log_level, "info");
}

TEST(JobManagerSettings, NonLoopbackBindNeedsAToken) {
  Config config;
  ASSERT_TRUE(config.MergeSetFlag("rest.address=0.0.0.0"));
  auto refused = JobManagerSettings::FromConfig(config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "invalid value '0.0.0.0' for rest.address (from flag --set rest.address=0.0.0.0): "
            "binding to a non-loopback address needs cluster.token");
  ASSERT_TRUE(config.MergeEnvironment([](const std::string& name) -> std::optional<std::string> {
    if (name == "BROOK_CLUSTER_TOKEN") return "s3cret";
    return std::nullopt;
  }));
  auto accepted = JobManagerSettings::FromConfig(config);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted.value().cluster_token, "s3cret");
}

TEST(JobManagerSettings, HeartbeatTimeoutMustExceedTheInterval) {
  Config config;
  ASSERT_TRUE(config.MergeYamlText("heartbeat: {interval: 5s, timeout: 5s}\n", "hb.yaml"));
  auto refused = JobManagerSettings::FromConfig(config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "invalid value '5s' for heartbeat.timeout (from file hb.yaml line 1): must be longer "
            "than heartbeat.interval (5s)");
  auto also_tm = TaskManagerSettings::FromConfig(config);
  ASSERT_FALSE(also_tm);
}

TEST(TaskManagerSettings, NeedsTheJobManagerAddress) {
  Config config;
  auto refused = TaskManagerSettings::FromConfig(config);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(Contains(refused.error().message, "taskmanager.jobmanager has no value"));

  ASSERT_TRUE(config.MergeFlag("taskmanager.jobmanager", "127.0.0.1:6123", "--jobmanager"));
  ASSERT_TRUE(config.MergeFlag("taskmanager.slots", "4", "--slots"));
  ASSERT_TRUE(config.MergeSetFlag("network.buffer-timeout=5ms"));
  auto settings = TaskManagerSettings::FromConfig(config);
  ASSERT_TRUE(settings) << settings.error().message;
  const TaskManagerSettings& tm = settings.value();
  EXPECT_EQ(tm.job_manager.ToString(), "127.0.0.1:6123");
  EXPECT_EQ(tm.slots, 4);
  EXPECT_EQ(tm.id, "");
  EXPECT_EQ(tm.host, "127.0.0.1");
  EXPECT_EQ(tm.data_port, 0);
  EXPECT_EQ(tm.network_buffer_bytes, 32u * 1024);
  EXPECT_EQ(tm.network_buffer_timeout, milliseconds(5));
}

TEST(TaskManagerSettings, IdCanBeSet) {
  Config config;
  ASSERT_TRUE(config.MergeSetFlag("taskmanager.jobmanager=127.0.0.1:6123"));
  ASSERT_TRUE(config.MergeFlag("taskmanager.id", "tm-7", "--id"));
  auto settings = TaskManagerSettings::FromConfig(config);
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings.value().id, "tm-7");
}

TEST(TaskManagerSettings, BufferSizeOutOfRangeIsAnError) {
  Config config;
  ASSERT_TRUE(config.MergeSetFlag("taskmanager.jobmanager=127.0.0.1:6123"));
  ASSERT_TRUE(config.MergeSetFlag("network.buffer-size=1gb"));
  auto refused = TaskManagerSettings::FromConfig(config);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(Contains(refused.error().message, "network.buffer-size"));
  EXPECT_TRUE(Contains(refused.error().message, "from 1kb to 64mb"));
}

TEST(Settings, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
}

}  // namespace
}  // namespace brook::server
