// Real cluster processes for tests: brook-jobmanager, brook-taskmanager and the brook CLI,
// started as child processes on loopback with free ports, their output in log files that a
// failing test prints. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace brook::testing {

// A free TCP port on 127.0.0.1 (bound and released: another process could take it in
// between, which on a test machine's loopback does not happen in practice).
uint16_t FreePort();

class ChildProcess {
 public:
  ChildProcess(const std::string& name, const std::vector<std::string>& argv,
               const std::filesystem::path& log);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void Kill(int signal = SIGKILL);
  // The exit status (exit code, or 128 + signal), or -1 if still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

struct CommandResult {
  int exit_code = -1;  // -1: timed out (and killed)
  std::string output;  // stdout and stderr
};

// Runs a command to its end (bounded by `timeout`).
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::filesystem::path& scratch);

// A job manager and any number of task managers on loopback, sharing a token.
class ProcessCluster {
 public:
  explicit ProcessCluster(std::vector<std::string> jobmanager_settings = {});
  ~ProcessCluster();

  // Starts a task manager with `slots` slots and waits until the job manager lists it.
  ChildProcess& AddTaskManager(int slots, std::vector<std::string> settings = {});
  void WaitForTaskManagers(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // `brook <args>` against this cluster (with --jobmanager and --token).
  CommandResult Brook(std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // GET on the REST API: the body, or "" on failure.
  std::string Get(const std::string& target);

  uint16_t rpc_port() const { return rpc_port_; }
  uint16_t rest_port() const { return rest_port_; }
  const std::string& token() const { return token_; }
  const std::filesystem::path& dir() const { return dir_; }
  ChildProcess& jobmanager() { return *jobmanager_; }
  // SIGKILLs the job manager and starts it again with the same ports and directories; returns
  // once its REST API answers.
  void RestartJobManager();
  // Every process's log, for a failing test's message.
  std::string Logs() const;

 private:
  std::filesystem::path dir_;
  std::string token_;
  uint16_t rpc_port_ = 0;
  uint16_t rest_port_ = 0;
  std::vector<std::string> jobmanager_argv_;
  int jobmanager_runs_ = 0;
  std::string previous_jobmanager_logs_;
  std::unique_ptr<ChildProcess> jobmanager_;
  void StartJobManager();
  std::vector<std::unique_ptr<ChildProcess>> taskmanagers_;
};

}  // namespace brook::testing
