// The distributed cluster as users run it: real brook-jobmanager and brook-taskmanager
// processes on loopback, jobs submitted with the brook CLI as shared libraries.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "process_cluster.h"

namespace brook::testing {
namespace {

using namespace std::chrono_literals;

uint64_t Mix(uint64_t x) {  // the job's key function, derived here independently of Brook
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The keyed_count job's exact output: for each key with n events, the lines "key 1".."key n".
std::multiset<std::string> ExpectedCounts(uint64_t events, uint64_t keys) {
  std::map<uint64_t, uint64_t> counts;
  for (uint64_t i = 0; i < events; ++i) ++counts[Mix(i) % keys];
  std::multiset<std::string> lines;
  for (const auto& [key, n] : counts)
    for (uint64_t c = 1; c <= n; ++c) lines.insert(std::to_string(key) + " " + std::to_string(c));
  return lines;
}

std::multiset<std::string> ReadOutput(const std::filesystem::path& dir) {
  std::multiset<std::string> lines;
  if (!std::filesystem::exists(dir)) return lines;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    // Hidden files are an exactly-once sink's uncommitted parts: not output.
    if (file.path().filename().string().starts_with(".")) continue;
    std::ifstream in(file.path());
    for (std::string line; std::getline(in, line);) lines.insert(line);
  }
  return lines;
}

// Uncommitted parts of an exactly-once sink (hidden files) in `dir`.
size_t HiddenFiles(const std::filesystem::path& dir) {
  size_t n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& file : std::filesystem::directory_iterator(dir))
    if (file.path().filename().string().starts_with(".")) ++n;
  return n;
}

// The keyed_count job's output as it stands when the job stopped: for every key the lines
// "key 1".."key n" exactly once (a consistent cut: nothing lost, nothing twice). Returns n by
// key, or an empty map if the output is no such cut.
std::map<uint64_t, uint64_t> CountsAtACut(const std::multiset<std::string>& lines) {
  std::map<uint64_t, std::set<uint64_t>> seen;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    uint64_t key = 0, count = 0;
    in >> key >> count;
    if (!seen[key].insert(count).second) return {};
  }
  std::map<uint64_t, uint64_t> counts;
  for (const auto& [key, values] : seen) {
    if (*values.begin() != 1 || *values.rbegin() != values.size()) return {};
    counts[key] = values.size();
  }
  return counts;
}

// The window output's counts summed by key ("key window-end count" lines).
std::map<uint64_t, uint64_t> WindowCountsByKey(const std::multiset<std::string>& lines) {
  std::map<uint64_t, uint64_t> sums;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    uint64_t key = 0, count = 0;
    int64_t window_end = 0;
    in >> key >> window_end >> count;
    sums[key] += count;
  }
  return sums;
}

std::vector<std::string> RunArgs(const std::filesystem::path& output, uint64_t events, uint64_t keys,
                                 int parallelism, int rate) {
  return {"run", KEYED_COUNT_JOB, "--parallelism", std::to_string(parallelism), "--",
          "--events", std::to_string(events), "--keys", std::to_string(keys),
          "--rate", std::to_string(rate), "--output", output.string()};
}

std::string JobIdFrom(const std::string& cli_output) {
  const std::string marker = "submitted job ";
  const auto pos = cli_output.find(marker);
  if (pos == std::string::npos) return "";
  return cli_output.substr(pos + marker.size(), 32);
}

std::string JobState(ProcessCluster& cluster, const std::string& id) {
  const std::string body = cluster.Get("/jobs/" + id);
  const auto pos = body.find("\"state\":\"");
  if (pos == std::string::npos) return "";
  return body.substr(pos + 9, body.find('"', pos + 9) - pos - 9);
}

// The number after the first "key": in a JSON text; -1 if there is none.
int64_t FirstNumber(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":";
  const auto pos = json.find(marker);
  if (pos == std::string::npos) return -1;
  return std::strtoll(json.c_str() + pos + marker.size(), nullptr, 10);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

TEST(ClusterProcesses, RunsAJobAcrossTwoTaskManagersWithTheCli) {
  ProcessCluster cluster;
  cluster.AddTaskManager(2);
  cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(2);

  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const auto run = cluster.Brook(RunArgs(output, 20'000, 37, 4, 0));
  ASSERT_EQ(run.exit_code, 0) << run.output << cluster.Logs();
  EXPECT_NE(run.output.find("FINISHED"), std::string::npos) << run.output;
  EXPECT_EQ(ReadOutput(output), ExpectedCounts(20'000, 37));

  // Both task managers ran subtasks (slots are spread), and the CLI's other commands work.
  const std::string id = JobIdFrom(run.output);
  const std::string vertex = cluster.Get("/jobs/" + id + "/vertices/1");
  EXPECT_NE(vertex.find("taskmanager-0"), std::string::npos) << vertex;
  EXPECT_NE(vertex.find("taskmanager-1"), std::string::npos) << vertex;
  // Records crossed between the processes: the sources' final numbers count bytes out, the
  // counts' bytes in (the vertex totals come first in the answer, before the subtasks).
  const std::string source = cluster.Get("/jobs/" + id + "/vertices/0");
  EXPECT_GT(FirstNumber(source, "write-bytes"), 0) << source;
  EXPECT_EQ(FirstNumber(source, "read-bytes"), 0) << source;
  EXPECT_GT(FirstNumber(vertex, "read-bytes"), 0) << vertex;
  const auto list = cluster.Brook({"list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.output.find(id), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("keyed_count"), std::string::npos) << list.output;
  const auto status = cluster.Brook({"status", id.substr(0, 8)});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("count per key"), std::string::npos) << status.output;
  const auto tms = cluster.Brook({"taskmanagers"});
  EXPECT_EQ(tms.exit_code, 0);
  EXPECT_NE(tms.output.find("taskmanager-1"), std::string::npos) << tms.output;
}

TEST(ClusterProcesses, RestartsTheJobWhenATaskManagerIsKilled) {
  ProcessCluster cluster({"heartbeat.interval=200ms", "heartbeat.timeout=1500ms",
                          "restart-strategy.type=fixed-delay",
                          "restart-strategy.fixed-delay.attempts=5",
                          "restart-strategy.fixed-delay.delay=200ms"});
  cluster.AddTaskManager(2);
  ChildProcess& victim = cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(2);

  // About three seconds of input at the generator's rate limit.
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const uint64_t events = 30'000;
  const auto submit = cluster.Brook([&] {
    auto args = RunArgs(output, events, 53, 4, 10'000);
    args.insert(args.begin() + 1, "--detached");
    return args;
  }());
  ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
  const std::string id = JobIdFrom(submit.output);
  ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > 1000; }, 30s)) << cluster.Logs();

  victim.Kill(SIGKILL);
  victim.Wait(5s);
  cluster.AddTaskManager(2);  // a replacement joins and receives work

  ASSERT_TRUE(WaitFor([&] { return JobState(cluster, id) == "FINISHED"; }, 90s))
      << JobState(cluster, id) << "\n" << cluster.Logs();
  EXPECT_EQ(ReadOutput(output), ExpectedCounts(events, 53));
  const std::string job = cluster.Get("/jobs/" + id);
  EXPECT_EQ(job.find("\"restarts\":0"), std::string::npos) << job;
  // The failure is recorded: the lost task manager, or a channel to it, whichever the job
  // manager heard of first.
  const std::string exceptions = cluster.Get("/jobs/" + id + "/exceptions");
  EXPECT_NE(exceptions.find("\"all-exceptions\":[{"), std::string::npos) << exceptions;
  EXPECT_TRUE(exceptions.find("taskmanager-1") != std::string::npos ||
              exceptions.find("connection") != std::string::npos)
      << exceptions;
}

TEST(ClusterProcesses, RefusesBadJobLibrariesAndStaysUnchanged) {
  ProcessCluster cluster;
  cluster.AddTaskManager(1);
  cluster.WaitForTaskManagers(1);

  // A truncated copy of a real job library (its first 64 KiB: cut inside the loadable code, not
  // just in the debug sections at the end, which would still load).
  const auto truncated = cluster.dir() / "truncated.so";
  {
    std::ifstream in(KEYED_COUNT_JOB, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), std::streamsize(std::min<size_t>(bytes.size(), 64 << 10)));
  }
  const auto bad = cluster.Brook({"run", truncated.string()});
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find("HTTP 400"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("truncated.so"), std::string::npos) << bad.output;

  const auto no_entry = cluster.Brook({"run", NO_ENTRY_LIBRARY});
  EXPECT_EQ(no_entry.exit_code, 3) << no_entry.output;
  EXPECT_NE(no_entry.output.find("brook_job_entry"), std::string::npos) << no_entry.output;

  const auto missing = cluster.Brook({"run", (cluster.dir() / "nope.so").string()});
  EXPECT_NE(missing.exit_code, 0) << missing.output;

  // Nothing was stored or started.
  EXPECT_NE(cluster.Get("/jars").find("\"files\":[]"), std::string::npos) << cluster.Get("/jars");
  EXPECT_NE(cluster.Get("/jobs").find("\"jobs\":[]"), std::string::npos) << cluster.Get("/jobs");
}

TEST(ClusterProcesses, WrongTokenIsRefused) {
  ProcessCluster cluster;
  CommandResult result = RunCommand({BROOK_CLI_BIN, "--jobmanager",
                                     "127.0.0.1:" + std::to_string(cluster.rest_port()), "--token",
                                     "wrong", "run", KEYED_COUNT_JOB},
                                    30s, cluster.dir());
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("401"), std::string::npos) << result.output;
  // A task manager with the wrong token never registers.
  cluster.AddTaskManager(1, {});
  auto& intruder = cluster.AddTaskManager(1, {"cluster.token=wrong"});
  cluster.WaitForTaskManagers(1);
  std::this_thread::sleep_for(500ms);
  EXPECT_NE(cluster.Get("/overview").find("\"taskmanagers\":1,"), std::string::npos);
  intruder.Kill(SIGKILL);
}

void SendGarbage(uint16_t port, size_t bytes, uint64_t seed) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::mt19937_64 random(seed);
    std::string data(bytes, '\0');
    for (auto& c : data) c = char(random());
    (void)::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(20ms);
  }
  ::close(fd);
}

TEST(ClusterProcesses, RandomBytesOnEveryPortLeaveTheClusterServing) {
  ProcessCluster cluster;
  cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(1);
  const std::string tms = cluster.Get("/taskmanagers");
  const auto pos = tms.find("\"dataPort\":");
  ASSERT_NE(pos, std::string::npos) << tms;
  const auto data_port = uint16_t(std::stoi(tms.substr(pos + 11)));
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SendGarbage(cluster.rpc_port(), 1 + seed * 97, seed);
    SendGarbage(data_port, 1 + seed * 89, seed + 100);
    SendGarbage(cluster.rest_port(), 1 + seed * 83, seed + 200);
  }
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const auto run = cluster.Brook(RunArgs(output, 5'000, 11, 2, 0));
  ASSERT_EQ(run.exit_code, 0) << run.output << cluster.Logs();
  EXPECT_EQ(ReadOutput(output), ExpectedCounts(5'000, 11));
  EXPECT_TRUE(cluster.jobmanager().running());
}

TEST(ClusterProcesses, AJobWaitsForSlotsAndFailsClearlyWithoutThem) {
  ProcessCluster cluster({"scheduler.slot-wait-timeout=1s"});
  cluster.AddTaskManager(1);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  const auto run = cluster.Brook(RunArgs(output, 100, 3, 3, 0), 30s);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("not enough slots"), std::string::npos) << run.output;
}

TEST(ClusterProcesses, CancelStopsARunningJob) {
  ProcessCluster cluster;
  cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  auto args = RunArgs(output, 1'000'000, 10, 2, 1'000);
  args.insert(args.begin() + 1, "--detached");
  const auto submit = cluster.Brook(args);
  ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
  const std::string id = JobIdFrom(submit.output);
  ASSERT_TRUE(WaitFor([&] { return JobState(cluster, id) == "RUNNING"; }, 20s));
  const auto cancel = cluster.Brook({"cancel", id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_TRUE(WaitFor([&] { return JobState(cluster, id) == "CANCELED"; }, 20s)) << cluster.Logs();
  // Its slots are free again.
  EXPECT_TRUE(WaitFor([&] { return cluster.Get("/overview").find("\"slots-available\":2") != std::string::npos; }, 10s));
}

// The cluster's metrics.latency.interval applies to a job that leaves its own interval unset:
// its sinks fill latency histograms, on the REST API and in the job manager's /metrics.
TEST(ClusterProcesses, TheClusterLatencyIntervalAppliesToJobsWithoutTheirOwn) {
  ProcessCluster cluster({"metrics.latency.interval=20ms"});
  cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  auto args = RunArgs(output, 1'000'000, 10, 2, 2'000);  // no --latency-interval
  args.insert(args.begin() + 1, "--detached");
  const auto submit = cluster.Brook(args);
  ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
  const std::string id = JobIdFrom(submit.output);
  std::string vertex;
  EXPECT_TRUE(WaitFor(
      [&] {
        vertex = cluster.Get("/jobs/" + id + "/vertices/1");
        return FirstNumber(vertex, "count") > 0;  // the first "count" is a latency entry's
      },
      30s))
      << vertex << cluster.Logs();
  EXPECT_NE(vertex.find("\"source-id\""), std::string::npos) << vertex;
  const std::string metrics = cluster.Get("/metrics");
  EXPECT_NE(metrics.find("brook_task_latency_seconds_count{"), std::string::npos) << metrics;
  cluster.Brook({"cancel", id});
}

// Exactly-once across process deaths: a keyed count with checkpoints and a two-phase-commit
// file sink; task managers are killed with SIGKILL twice during the run and replaced, then the
// job manager is killed and restarted (it recovers the job from its own LMDB); the committed
// output equals the expected output exactly: nothing lost, nothing duplicated.
void RunChaos(bool unaligned) {
  ProcessCluster cluster({"heartbeat.interval=200ms", "heartbeat.timeout=1500ms",
                          "restart-strategy.type=fixed-delay",
                          "restart-strategy.fixed-delay.attempts=20",
                          "restart-strategy.fixed-delay.delay=200ms"});
  std::vector<ChildProcess*> taskmanagers = {&cluster.AddTaskManager(2), &cluster.AddTaskManager(2)};
  cluster.WaitForTaskManagers(2);
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const uint64_t events = 80'000, keys = 41;
  auto args = RunArgs(output, events, keys, 4, 6'000);  // about ten seconds of input
  args.insert(args.begin() + 1, "--detached");
  args.push_back("--checkpoint-interval");
  args.push_back("300");
  if (unaligned) args.push_back("--unaligned");
  const auto submit = cluster.Brook(args);
  ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
  const std::string id = JobIdFrom(submit.output);

  size_t threshold = 2'000;
  for (int kill = 0; kill < 2; ++kill) {
    ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > threshold; }, 60s))
        << "no committed output: " << cluster.Get("/jobs/" + id + "/checkpoints") << cluster.Logs();
    ChildProcess* victim = taskmanagers[size_t(kill) % taskmanagers.size()];
    victim->Kill(SIGKILL);
    victim->Wait(5s);
    taskmanagers[size_t(kill) % taskmanagers.size()] = &cluster.AddTaskManager(2);
    threshold = ReadOutput(output).size() + 4'000;
  }
  ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > threshold; }, 60s)) << cluster.Logs();
  cluster.RestartJobManager();
  ASSERT_TRUE(WaitFor([&] { return JobState(cluster, id) == "FINISHED"; }, 120s))
      << JobState(cluster, id) << "\n" << cluster.Get("/jobs/" + id + "/checkpoints") << cluster.Logs();
  const auto got = ReadOutput(output);
  const auto expected = ExpectedCounts(events, keys);
  EXPECT_EQ(got.size(), expected.size());
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  EXPECT_TRUE(missing.empty() && extra.empty())
      << missing.size() << " lines missing (first: " << (missing.empty() ? "" : missing.front()) << "), "
      << extra.size() << " extra (first: " << (extra.empty() ? "" : extra.front()) << ")\n"
      << cluster.Get("/jobs/" + id + "/checkpoints") << "\n" << cluster.Logs();
  const std::string job = cluster.Get("/jobs/" + id);
  EXPECT_EQ(job.find("\"restarts\":0"), std::string::npos) << job;
  const std::string checkpoints = cluster.Get("/jobs/" + id + "/checkpoints");
  EXPECT_EQ(checkpoints.find("\"completed\":0"), std::string::npos) << checkpoints;
}

// Stop with a savepoint at parallelism 2, resume at 3, stop again, resume at 1: the committed
// output equals the uninterrupted run's (keyed state is redistributed by key group, source
// positions and pending sink transactions by their operator state's mode). Each stop is a
// synchronous savepoint: the job ends FINISHED, with every transaction of the two-phase-commit
// sink committed and its output a consistent cut.
TEST(ClusterProcesses, SavepointsStopAndResumeAtOtherParallelisms) {
  ProcessCluster cluster;
  cluster.AddTaskManager(4);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const uint64_t events = 30'000, keys = 29;
  auto args_for = [&](int parallelism, const std::string& savepoint, bool detached) {
    auto args = RunArgs(output, events, keys, parallelism, 5'000);
    args.push_back("--checkpoint-interval");
    args.push_back("500");
    if (!savepoint.empty()) args.insert(args.begin() + 1, {"--from-savepoint", savepoint});
    if (detached) args.insert(args.begin() + 1, "--detached");
    return args;
  };
  std::string savepoint;
  const int parallelisms[] = {2, 3};
  for (int round = 0; round < 2; ++round) {
    const auto submit = cluster.Brook(args_for(parallelisms[round], savepoint, true));
    ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
    const std::string id = JobIdFrom(submit.output);
    const size_t before = ReadOutput(output).size();
    ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > before + 2'000; }, 60s)) << cluster.Logs();
    savepoint = (cluster.dir() / ("savepoint-" + std::to_string(round))).string();
    const auto stop = cluster.Brook({"stop", "--savepoint", savepoint, id});
    ASSERT_EQ(stop.exit_code, 0) << stop.output << cluster.Logs();
    EXPECT_NE(stop.output.find("FINISHED"), std::string::npos) << stop.output;
    // The stop returns once the job ended, and it ended as finished, not cancelled.
    EXPECT_EQ(JobState(cluster, id), "FINISHED") << cluster.Logs();
    // Every subtask stopped; the sink committed the savepoint's transaction and aborted the
    // (empty) one it had begun after the barrier: no uncommitted part is left.
    EXPECT_EQ(HiddenFiles(output), 0u);
    const auto at_stop = ReadOutput(output);
    EXPECT_FALSE(CountsAtACut(at_stop).empty()) << "the output at the stop is not a consistent cut";
    EXPECT_LT(at_stop.size(), events) << "the job ran to its end before the stop";
  }
  const auto last = cluster.Brook(args_for(1, savepoint, false));
  ASSERT_EQ(last.exit_code, 0) << last.output << cluster.Logs();
  const auto got = ReadOutput(output);
  const auto expected = ExpectedCounts(events, keys);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the committed output differs from the uninterrupted run's";
  // A savepoint directory that holds none is refused, changing nothing.
  const auto bad = cluster.Brook(args_for(2, cluster.dir().string(), true));
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
}

// Without --drain, a stop leaves the windows that are still open in the savepoint (their counts
// fall short of the running counts of the same records); with --drain the sources end event time
// before the barrier, so every window fires into the savepoint's output: per key, the windows'
// counts add up to the running count.
TEST(ClusterProcesses, StopWithDrainFiresThePendingWindows) {
  ProcessCluster cluster;
  cluster.AddTaskManager(4);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  const auto windows = cluster.dir() / "windows";
  std::filesystem::create_directories(output);
  std::filesystem::create_directories(windows);
  auto args_for = [&](int parallelism, const std::string& savepoint) {
    auto args = RunArgs(output, 200'000, 13, parallelism, 5'000);
    for (const char* a : {"--checkpoint-interval", "500", "--window", "1000", "--window-output"})
      args.push_back(a);
    args.push_back(windows.string());
    if (!savepoint.empty()) args.insert(args.begin() + 1, {"--from-savepoint", savepoint});
    args.insert(args.begin() + 1, "--detached");
    return args;
  };
  struct Round {
    int parallelism;
    bool drain;
  };
  std::string savepoint;
  for (const Round round : {Round{2, false}, Round{3, true}}) {
    const auto submit = cluster.Brook(args_for(round.parallelism, savepoint));
    ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
    const std::string id = JobIdFrom(submit.output);
    const size_t before = ReadOutput(output).size();
    ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > before + 3'000; }, 60s))
        << cluster.Logs();
    savepoint = (cluster.dir() / (round.drain ? "drained" : "savepoint")).string();
    std::vector<std::string> stop_args = {"stop", "--savepoint", savepoint, id};
    if (round.drain) stop_args.insert(stop_args.begin() + 1, "--drain");
    const auto stop = cluster.Brook(stop_args);
    ASSERT_EQ(stop.exit_code, 0) << stop.output << cluster.Logs();
    EXPECT_EQ(JobState(cluster, id), "FINISHED") << cluster.Logs();
    EXPECT_EQ(HiddenFiles(output) + HiddenFiles(windows), 0u);

    const auto counts = CountsAtACut(ReadOutput(output));
    ASSERT_FALSE(counts.empty()) << "the output at the stop is not a consistent cut";
    const auto window_sums = WindowCountsByKey(ReadOutput(windows));
    bool any_short = false;
    for (const auto& [key, count] : counts) {
      const uint64_t in_windows = window_sums.count(key) ? window_sums.at(key) : 0;
      if (round.drain) {
        EXPECT_EQ(in_windows, count) << "key " << key;
      }
      EXPECT_LE(in_windows, count) << "key " << key;
      any_short = any_short || in_windows < count;
    }
    // The key of the last record before the barrier has that record's window still open.
    if (!round.drain) {
      EXPECT_TRUE(any_short) << "every window fired without --drain";
    }
  }
}

// A stop whose savepoint cannot be written fails, and the job keeps running (its tasks carry on
// where they stopped; periodic checkpoints resume); a later stop succeeds, and the run resumed
// from it ends with exactly the uninterrupted run's output.
TEST(ClusterProcesses, AFailedStopLeavesTheJobRunning) {
  ProcessCluster cluster;
  cluster.AddTaskManager(4);
  cluster.WaitForTaskManagers(1);
  const auto output = cluster.dir() / "out";
  std::filesystem::create_directories(output);
  const uint64_t events = 40'000, keys = 17;
  auto args = RunArgs(output, events, keys, 2, 5'000);
  args.insert(args.begin() + 1, "--detached");
  for (const char* a : {"--checkpoint-interval", "300"}) args.push_back(a);
  const auto submit = cluster.Brook(args);
  ASSERT_EQ(submit.exit_code, 0) << submit.output << cluster.Logs();
  const std::string id = JobIdFrom(submit.output);
  ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > 1'000; }, 60s)) << cluster.Logs();

  // Below a regular file, the savepoint's directory cannot be created: the savepoint completes
  // as a checkpoint but is not written, so the tasks are told it aborted.
  const auto blocker = cluster.dir() / "blocker";
  std::ofstream(blocker) << "not a directory";
  const auto failed = cluster.Brook({"stop", "--savepoint", (blocker / "savepoint").string(), id});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("the savepoint failed"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find("is RUNNING"), std::string::npos) << failed.output;
  EXPECT_EQ(JobState(cluster, id), "RUNNING");
  const int64_t completed = FirstNumber(cluster.Get("/jobs/" + id + "/checkpoints"), "completed");
  const size_t lines = ReadOutput(output).size();
  ASSERT_TRUE(WaitFor([&] { return ReadOutput(output).size() > lines + 1'000; }, 30s))
      << "the job did not carry on after the failed stop\n"
      << cluster.Logs();
  ASSERT_TRUE(WaitFor(
      [&] {
        return FirstNumber(cluster.Get("/jobs/" + id + "/checkpoints"), "completed") >
               completed + 1;
      },
      30s))
      << "periodic checkpoints did not resume: " << cluster.Get("/jobs/" + id + "/checkpoints");

  const std::string savepoint = (cluster.dir() / "savepoint").string();
  const auto stop = cluster.Brook({"stop", "--savepoint", savepoint, id});
  ASSERT_EQ(stop.exit_code, 0) << stop.output << cluster.Logs();
  EXPECT_EQ(JobState(cluster, id), "FINISHED");
  EXPECT_LT(ReadOutput(output).size(), events) << "the job ran to its end before the stop";

  auto resume = RunArgs(output, events, keys, 1, 0);
  resume.insert(resume.begin() + 1, {"--from-savepoint", savepoint});
  for (const char* a : {"--checkpoint-interval", "300"}) resume.push_back(a);
  const auto last = cluster.Brook(resume);
  ASSERT_EQ(last.exit_code, 0) << last.output << cluster.Logs();
  const auto got = ReadOutput(output);
  EXPECT_EQ(got.size(), ExpectedCounts(events, keys).size());
  EXPECT_TRUE(got == ExpectedCounts(events, keys))
      << "the committed output differs from the uninterrupted run's";
}

TEST(ClusterProcesses, ExactlyOnceThroughTaskManagerAndJobManagerKillsAligned) { RunChaos(false); }
TEST(ClusterProcesses, ExactlyOnceThroughTaskManagerAndJobManagerKillsUnaligned) { RunChaos(true); }

}  // namespace
}  // namespace brook::testing
