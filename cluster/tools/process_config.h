// Command-line handling shared by brook-jobmanager and brook-taskmanager: `--config FILE`,
// repeatable `--set key=value`, named flags that stand for config keys, and `--help` listing
// every key the process reads. Builds the Config in precedence order (defaults < file <
// environment < flags) and sets spdlog's level from log.level.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "brook/cluster/server/config.h"

namespace brook::tools {

class ProcessConfig {
 public:
  ProcessConfig(CLI::App& app, server::ConfigScope scope);

  // A named flag (e.g. "--slots") for config key `key`; its description comes from the schema.
  void AddFlag(const std::string& flag, const std::string& key);

  // After app.parse(): merges everything. False, with the message printed to stderr, on any
  // configuration error.
  bool Load(server::Config& config);

  // Load(), then the process's typed settings (JobManagerSettings or TaskManagerSettings);
  // nullopt, with the error printed to stderr, if anything is wrong.
  template <typename Settings>
  std::optional<Settings> LoadSettings() {
    server::Config config;
    if (!Load(config)) return std::nullopt;
    auto settings = Settings::FromConfig(config);
    if (!settings) {
      std::fprintf(stderr, "configuration error: %s\n", settings.error().message.c_str());
      return std::nullopt;
    }
    return std::move(settings).value();
  }

 private:
  CLI::App& app_;
  std::string config_file_;
  std::vector<std::string> sets_;
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> flags_;  // flag, key, value
  std::vector<std::pair<CLI::Option*, std::string>> flag_options_;
  std::vector<std::unique_ptr<std::string>> flag_values_;
};

// Call first in main(), before any thread starts: blocks SIGINT and SIGTERM in every thread,
// so that WaitForTerminationSignal() receives them synchronously.
void BlockTerminationSignals();
// Blocks until SIGINT or SIGTERM.
void WaitForTerminationSignal();

}  // namespace brook::tools
