#include "brook/cluster/server/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace brook::server {
namespace {

using std::chrono::milliseconds;

Config::EnvironmentLookup FakeEnvironment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    auto it = variables.find(name);
    return it == variables.end() ? std::nullopt : std::optional(it->second);
  };
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

class ConfigFileTest : public testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }
  std::string Write(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    return path_;
  }
  std::string path_ = (std::filesystem::temp_directory_path() /
                       ("brook_config_test_" + std::to_string(::getpid()) + ".yaml"))
                          .string();
};

TEST(Config, DefaultsComeFromTheSchema) {
  Config config;
  EXPECT_EQ(config.GetInt("rest.port").value(), 8081);
  EXPECT_EQ(config.GetString("rest.address").value(), "127.0.0.1");
  EXPECT_EQ(config.GetDuration("heartbeat.interval").value(), milliseconds(10'000));
  EXPECT_EQ(config.GetSize("network.buffer-size").value(), 32u * 1024);
  EXPECT_EQ(config.GetString("cluster.token").value(), "");
  EXPECT_EQ(config.Find("rest.port")->origin.layer, ConfigOrigin::Layer::kDefault);
}

TEST(Config, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  Config config;
  // Merged in the "wrong" order on purpose: precedence does not depend on it.
  ASSERT_TRUE(config.MergeSetFlag("rest.port=1003"));
  ASSERT_TRUE(config.MergeEnvironment(
      FakeEnvironment({{"BROOK_REST_PORT", "1002"}, {"BROOK_RPC_PORT", "2002"}})));
  ASSERT_TRUE(config.MergeYamlText("rest.port: 1001\nrpc.port: 2001\ntaskmanager.slots: 3\n",
                                   "brook.yaml"));
  EXPECT_EQ(config.GetInt("rest.port").value(), 1003);
  EXPECT_EQ(config.GetInt("rpc.port").value(), 2002);
  EXPECT_EQ(config.GetInt("taskmanager.slots").value(), 3);
  EXPECT_EQ(config.GetInt("taskmanager.data.port").value(), 0);
  EXPECT_EQ(config.Find("rest.port")->origin.Describe(), "flag --set rest.port=1003");
  EXPECT_EQ(config.Find("rpc.port")->origin.Describe(), "environment variable BROOK_RPC_PORT");
  EXPECT_EQ(config.Find("taskmanager.slots")->origin.Describe(), "file brook.yaml line 3");
}

TEST(Config, NamedFlagsAreOverridesToo) {
  Config config;
  ASSERT_TRUE(config.MergeFlag("taskmanager.slots", "4", "--slots"));
  EXPECT_EQ(config.GetInt("taskmanager.slots").value(), 4);
  auto bad = config.MergeFlag("taskmanager.slots", "lots", "--slots");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "invalid value 'lots' for taskmanager.slots (from flag --slots): expected an integer");
}

TEST(Config, NestedAndDottedKeysAreTheSameKey) {
  Config nested;
  ASSERT_TRUE(nested.MergeYamlText(
      "rest:\n  port: 9091\n  address: 127.0.0.2\nrestart-strategy:\n  type: fixed-delay\n"
      "  fixed-delay: {attempts: 3, delay: 10s}\n",
      "nested.yaml"));
  Config flat;
  ASSERT_TRUE(flat.MergeYamlText(
      "rest.port: 9091\nrest.address: 127.0.0.2\nrestart-strategy.type: fixed-delay\n"
      "restart-strategy.fixed-delay.attempts: 3\nrestart-strategy.fixed-delay.delay: 10s\n",
      "flat.yaml"));
  for (const Config* config : {&nested, &flat}) {
    EXPECT_EQ(config->GetInt("rest.port").value(), 9091);
    EXPECT_EQ(config->GetString("rest.address").value(), "127.0.0.2");
    EXPECT_EQ(config->GetString("restart-strategy.type").value(), "fixed-delay");
    EXPECT_EQ(config->GetInt("restart-strategy.fixed-delay.attempts").value(), 3);
    EXPECT_EQ(config->GetDuration("restart-strategy.fixed-delay.delay").value(),
              milliseconds(10'000));
  }
  Config mixed;
  ASSERT_TRUE(mixed.MergeYamlText("rest:\n  port: 1\nrest.address: 127.0.0.3\n", "mixed.yaml"));
  EXPECT_EQ(mixed.GetInt("rest.port").value(), 1);
  EXPECT_EQ(mixed.GetString("rest.address").value(), "127.0.0.3");
}

TEST(Config, KeyGivenBothNestedAndDottedIsAnError) {
  Config config;
  auto result = config.MergeYamlText("rest:\n  port: 1\nrest.port: 2\n", "twice.yaml");
  ASSERT_FALSE(result);
  EXPECT_TRUE(Contains(result.error().message, "'rest.port' is given twice in file twice.yaml"))
      << result.error().message;
}

TEST(Config, UnknownKeyNamesKeyFileAndClosestKey) {
  Config config;
  auto result = config.MergeYamlText("rest.port: 1\nrest.prot: 8081\n", "/etc/brook.yaml");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ServerErrc::kInvalidConfig);
  EXPECT_EQ(result.error().message,
            "unknown configuration key 'rest.prot' in file /etc/brook.yaml line 2; did you "
            "mean 'rest.port'?");
  // A failed merge changes nothing, not even the good key before the bad one.
  EXPECT_EQ(config.GetInt("rest.port").value(), 8081);

  auto nested = config.MergeYamlText("taskmanager:\n  slot: 2\n", "tm.yaml");
  ASSERT_FALSE(nested);
  EXPECT_TRUE(Contains(nested.error().message, "'taskmanager.slot'"));
  EXPECT_TRUE(Contains(nested.error().message, "did you mean 'taskmanager.slots'?"));

  auto far = config.MergeSetFlag("completely.different=1");
  ASSERT_FALSE(far);
  EXPECT_EQ(far.error().message,
            "unknown configuration key 'completely.different' in flag --set "
            "completely.different=1");
}

TEST(Config, BadValuesNameKeyValueAndOrigin) {
  Config config;
  auto file = config.MergeYamlText("heartbeat:\n  interval: soon\n", "hb.yaml");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().message,
            "invalid value 'soon' for heartbeat.interval (from file hb.yaml line 2): expected a "
            "duration such as 500ms, 10s, 2min or 1h");

  auto env = config.MergeEnvironment(FakeEnvironment({{"BROOK_REST_PORT", "70000"}}));
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().message,
            "invalid value '70000' for rest.port (from environment variable BROOK_REST_PORT): "
            "expected an integer from 0 to 65535");

  auto choice = config.MergeSetFlag("restart-strategy.type=sometimes");
  ASSERT_FALSE(choice);
  EXPECT_TRUE(Contains(choice.error().message,
                       "expected one of none|fixed-delay|exponential-delay|failure-rate"));

  auto size = config.MergeSetFlag("network.buffer-size=32 parsecs");
  ASSERT_FALSE(size);
  EXPECT_TRUE(Contains(size.error().message, "expected a size"));

  auto host_port = config.MergeSetFlag("taskmanager.jobmanager=localhost");
  ASSERT_FALSE(host_port);
  EXPECT_TRUE(Contains(host_port.error().message, "expected host:port"));

  auto multiplier =
      config.MergeSetFlag("restart-strategy.exponential-delay.backoff-multiplier=0.5");
  ASSERT_FALSE(multiplier);
  EXPECT_TRUE(Contains(multiplier.error().message, "expected a number from 1 to 1000"));

  EXPECT_FALSE(config.MergeSetFlag("no-equals-sign"));
  EXPECT_FALSE(config.MergeSetFlag("=5"));
  // Nothing above changed anything.
  EXPECT_EQ(config.GetInt("rest.port").value(), 8081);
  EXPECT_EQ(config.GetDuration("heartbeat.interval").value(), milliseconds(10'000));
}

TEST(Config, MalformedYamlListsAndEmptyValuesAreErrors) {
  Config config;
  auto syntax = config.MergeYamlText("rest: [port: 1\n", "broken.yaml");
  ASSERT_FALSE(syntax);
  EXPECT_TRUE(Contains(syntax.error().message, "broken.yaml is not valid YAML"));

  auto list = config.MergeYamlText("taskmanager.slots: [1, 2]\n", "list.yaml");
  ASSERT_FALSE(list);
  EXPECT_TRUE(Contains(list.error().message, "has a list value"));

  auto empty = config.MergeYamlText("cluster.token:\n", "empty.yaml");
  ASSERT_FALSE(empty);
  EXPECT_TRUE(Contains(empty.error().message, "has no value"));

  auto scalar = config.MergeYamlText("just text", "scalar.yaml");
  ASSERT_FALSE(scalar);
  EXPECT_TRUE(Contains(scalar.error().message, "must be a map"));

  EXPECT_TRUE(config.MergeYamlText("", "empty-file.yaml"));
  EXPECT_TRUE(config.MergeYamlText("# only a comment\n", "comment.yaml"));
  EXPECT_TRUE(config.MergeYamlText("cluster.token: \"\"\n", "quoted.yaml"));
}

TEST_F(ConfigFileTest, ReadsAFileAndNamesItInErrors) {
  Config config;
  ASSERT_TRUE(config.MergeYamlFile(Write("taskmanager:\n  slots: 6\n")));
  EXPECT_EQ(config.GetInt("taskmanager.slots").value(), 6);
  EXPECT_EQ(config.Find("taskmanager.slots")->origin.Describe(), "file " + path_ + " line 2");

  auto bad = config.MergeYamlFile(Write("\n\nrest.portt: 1\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unknown configuration key 'rest.portt' in file " + path_ +
                                     " line 3; did you mean 'rest.port'?");

  auto missing = config.MergeYamlFile(path_ + ".missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot read configuration file " + path_ + ".missing");
  auto directory = config.MergeYamlFile(std::filesystem::temp_directory_path().string());
  EXPECT_FALSE(directory);
}

TEST(Config, EnvironmentVariableNames) {
  EXPECT_EQ(EnvironmentVariableName("rest.port"), "BROOK_REST_PORT");
  EXPECT_EQ(EnvironmentVariableName("restart-strategy.fixed-delay.attempts"),
            "BROOK_RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS");
}

TEST(Config, ReadsTheProcessEnvironmentByDefault) {
  ::setenv("BROOK_TASKMANAGER_SLOTS", "7", 1);
  Config config;
  auto merged = config.MergeEnvironment();
  ::unsetenv("BROOK_TASKMANAGER_SLOTS");
  ASSERT_TRUE(merged);
  EXPECT_EQ(config.GetInt("taskmanager.slots").value(), 7);
}

TEST(Config, KeyWithoutDefaultAndValueIsAnErrorOnRead) {
  Config config;
  EXPECT_FALSE(config.IsSet("taskmanager.jobmanager"));
  auto missing = config.GetHostPort("taskmanager.jobmanager");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(Contains(missing.error().message, "BROOK_TASKMANAGER_JOBMANAGER"));
  ASSERT_TRUE(config.MergeSetFlag("taskmanager.jobmanager=jm.local:6123"));
  HostPort jm = config.GetHostPort("taskmanager.jobmanager").value();
  EXPECT_EQ(jm.host, "jm.local");
  EXPECT_EQ(jm.port, 6123);
}

TEST(ConfigParsing, Durations) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(ParseDuration("10 s"), milliseconds(10'000));
  EXPECT_EQ(ParseDuration("2min"), milliseconds(120'000));
  EXPECT_EQ(ParseDuration("3 minutes"), milliseconds(180'000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(ParseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(ParseDuration("250"), milliseconds(250));
  EXPECT_EQ(ParseDuration("0"), milliseconds(0));
  EXPECT_EQ(ParseDuration("10S"), milliseconds(10'000));
  for (std::string_view bad :
       {"", "s", "-1s", "1.5s", "10 fortnights", "1s2", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
  EXPECT_EQ(FormatDuration(milliseconds(120'000)), "2min");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
}

TEST(ConfigParsing, Sizes) {
  EXPECT_EQ(ParseSize("32kb"), 32u * 1024);
  EXPECT_EQ(ParseSize("1mb"), 1024u * 1024);
  EXPECT_EQ(ParseSize("1 MB"), 1024u * 1024);
  EXPECT_EQ(ParseSize("2g"), 2ull << 30);
  EXPECT_EQ(ParseSize("512"), 512u);
  EXPECT_EQ(ParseSize("512b"), 512u);
  for (std::string_view bad : {"", "kb", "-1kb", "1.5mb", "3 parsecs", "99999999999tb"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
}

TEST(ConfigParsing, BoolsAndHostPorts) {
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("Off"), false);
  EXPECT_FALSE(ParseBool("maybe"));
  auto v4 = ParseHostPort("10.0.0.1:6123");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->ToString(), "10.0.0.1:6123");
  auto v6 = ParseHostPort("[::1]:8081");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:8081");
  for (std::string_view bad : {"", "host", ":80", "host:", "host:0", "host:65536", "::1:80",
                               "host:+80", "host:80x", "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(bad)) << bad;
  }
}

TEST(ConfigSchema, HelpListsTheKeysOfEachProcess) {
  const ConfigSchema& schema = BrookConfigSchema();
  const std::string jm = schema.HelpText(ConfigScope::kJobManager);
  const std::string tm = schema.HelpText(ConfigScope::kTaskManager);
  EXPECT_TRUE(Contains(jm, "rest.port (integer 0..65535, default 8081, env BROOK_REST_PORT)"));
  EXPECT_TRUE(Contains(jm, "heartbeat.timeout"));
  EXPECT_FALSE(Contains(jm, "taskmanager.slots"));
  EXPECT_TRUE(Contains(tm, "taskmanager.slots"));
  EXPECT_TRUE(Contains(tm, "heartbeat.timeout"));
  EXPECT_FALSE(Contains(tm, "rest.port"));
  // Every default parses as its own type: merging it as a flag succeeds.
  for (const ConfigOption& option : schema.options()) {
    if (option.default_value.empty()) continue;
    Config config;
    EXPECT_TRUE(config.MergeFlag(option.key, option.default_value, "--test")) << option.key;
  }
}

}  // namespace
}  // namespace brook::server
