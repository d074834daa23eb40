#include "process_config.h"

#include <signal.h>

#include <cstdio>

#include <spdlog/spdlog.h>

namespace brook::tools {

ProcessConfig::ProcessConfig(CLI::App& app, server::ConfigScope scope) : app_(app) {
  app_.add_option("--config,-c", config_file_, "YAML configuration file")->check(CLI::ExistingFile);
  app_.add_option("--set,-D", sets_, "a configuration key: --set key=value (repeatable)");
  app_.footer("Configuration keys (file, BROOK_<KEY> environment variables, or --set key=value;\n"
              "flags win over the environment, which wins over the file):\n\n" +
              server::BrookConfigSchema().HelpText(scope));
}

void ProcessConfig::AddFlag(const std::string& flag, const std::string& key) {
  const auto* option = server::BrookConfigSchema().Find(key);
  flag_values_.push_back(std::make_unique<std::string>());
  auto* cli = app_.add_option(flag, *flag_values_.back(),
                              option ? std::string(option->description) + " (" + key + ")" : key);
  flag_options_.emplace_back(cli, key);
}

bool ProcessConfig::Load(server::Config& config) {
  auto fail = [](const server::ServerError& error) {
    std::fprintf(stderr, "configuration error: %s\n", error.message.c_str());
    return false;
  };
  if (!config_file_.empty())
    if (auto r = config.MergeYamlFile(config_file_); !r) return fail(r.error());
  if (auto r = config.MergeEnvironment(); !r) return fail(r.error());
  for (size_t i = 0; i < flag_options_.size(); ++i) {
    auto [option, key] = flag_options_[i];
    if (option->count() == 0) continue;
    if (auto r = config.MergeFlag(key, *flag_values_[i], option->get_name()); !r) return fail(r.error());
  }
  for (const auto& set : sets_)
    if (auto r = config.MergeSetFlag(set); !r) return fail(r.error());
  if (auto level = config.GetString("log.level"); level && !level.value().empty())
    spdlog::set_level(spdlog::level::from_str(level.value()));
  return true;
}

namespace {
sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}
}  // namespace

void BlockTerminationSignals() {
  const sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

void WaitForTerminationSignal() {
  const sigset_t signals = TerminationSignals();
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
}

}  // namespace brook::tools
