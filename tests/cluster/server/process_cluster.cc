#include "process_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "brook/cluster/rest/http_client.h"

namespace brook::testing {

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

ChildProcess::ChildProcess(const std::string& name, const std::vector<std::string>& argv,
                           const std::filesystem::path& log)
    : name_(name), log_(log), pid_(Spawn(argv, log)) {}

ChildProcess::~ChildProcess() {
  if (running()) {
    Kill(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void ChildProcess::Kill(int signal) {
  if (pid_ > 0 && status_ < 0) ::kill(pid_, signal);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (status_ < 0) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

bool ChildProcess::running() { return Wait(std::chrono::milliseconds(0)) < 0; }

std::string ChildProcess::log() const { return ReadFile(log_); }

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::filesystem::path& scratch) {
  static int next = 0;
  const auto log = scratch / ("command-" + std::to_string(next++) + ".log");
  ChildProcess process("command", argv, log);
  CommandResult result;
  result.exit_code = process.Wait(timeout);
  if (result.exit_code < 0) {
    process.Kill(SIGKILL);
    process.Wait(std::chrono::seconds(5));
    result.exit_code = -1;
  }
  result.output = process.log();
  return result;
}

ProcessCluster::ProcessCluster(std::vector<std::string> jobmanager_settings) {
  std::random_device random;
  dir_ = std::filesystem::temp_directory_path() /
         ("brook-cluster-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
  std::filesystem::create_directories(dir_);
  token_ = "test-token-" + std::to_string(random());
  rpc_port_ = FreePort();
  rest_port_ = FreePort();
  std::vector<std::string> argv = {BROOK_JOBMANAGER_BIN,
                                   "--rpc-port", std::to_string(rpc_port_),
                                   "--rest-port", std::to_string(rest_port_),
                                   "--token", token_,
                                   "--set", "blob.storage.directory=" + (dir_ / "blobs").string()};
  for (const auto& s : jobmanager_settings) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  jobmanager_argv_ = argv;
  StartJobManager();
}

void ProcessCluster::StartJobManager() {
  const std::string log = "jobmanager" + (jobmanager_runs_ ? "-" + std::to_string(jobmanager_runs_) : "") + ".log";
  ++jobmanager_runs_;
  jobmanager_ = std::make_unique<ChildProcess>("jobmanager", jobmanager_argv_, dir_ / log);
  // Ready once the REST API answers.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Get("/overview").empty()) {
    if (std::chrono::steady_clock::now() > deadline || !jobmanager_->running())
      throw std::runtime_error("the job manager did not start:\n" + jobmanager_->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void ProcessCluster::RestartJobManager() {
  previous_jobmanager_logs_ += "--- jobmanager (killed) ---\n" + jobmanager_->log();
  jobmanager_->Kill(SIGKILL);
  jobmanager_->Wait(std::chrono::seconds(10));
  StartJobManager();
}

ProcessCluster::~ProcessCluster() {
  for (auto& tm : taskmanagers_) tm->Kill(SIGTERM);
  jobmanager_->Kill(SIGTERM);
  for (auto& tm : taskmanagers_)
    if (tm->Wait(std::chrono::seconds(10)) < 0) tm->Kill(SIGKILL);
  if (jobmanager_->Wait(std::chrono::seconds(10)) < 0) jobmanager_->Kill(SIGKILL);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

ChildProcess& ProcessCluster::AddTaskManager(int slots, std::vector<std::string> settings) {
  const size_t index = taskmanagers_.size();
  const std::string name = "taskmanager-" + std::to_string(index);
  std::vector<std::string> argv = {BROOK_TASKMANAGER_BIN,
                                   "--jobmanager", "127.0.0.1:" + std::to_string(rpc_port_),
                                   "--slots", std::to_string(slots),
                                   "--id", name,
                                   "--token", token_,
                                   "--set", "taskmanager.working-dir=" + (dir_ / name).string()};
  for (const auto& s : settings) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  taskmanagers_.push_back(std::make_unique<ChildProcess>(name, argv, dir_ / (name + ".log")));
  return *taskmanagers_.back();
}

void ProcessCluster::WaitForTaskManagers(size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string needle = "\"taskmanagers\":" + std::to_string(count) + ",";
  while (Get("/overview").find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("task managers did not register:\n" + Logs());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

CommandResult ProcessCluster::Brook(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {BROOK_CLI_BIN, "--jobmanager",
                                   "127.0.0.1:" + std::to_string(rest_port_), "--token", token_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout, dir_);
}

std::string ProcessCluster::Get(const std::string& target) {
  http::HttpClient client("127.0.0.1", rest_port_, token_, std::chrono::seconds(5));
  auto result = client.Get(target);
  return result.ok() ? result.body : "";
}

std::string ProcessCluster::Logs() const {
  std::string text = previous_jobmanager_logs_ + "--- jobmanager ---\n" + jobmanager_->log();
  for (const auto& tm : taskmanagers_) text += "--- " + tm->name() + " ---\n" + tm->log();
  return text;
}

}  // namespace brook::testing
