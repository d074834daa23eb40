// Checkpoint benchmark: what exactly-once checkpoints cost a keyed window job with big keyed
// state, and how long a job takes to come back after a task manager dies. Each case prints one
// line:
//
//   case=checkpoint_memory brook=<events/s with checkpoints> baseline=<events/s without>
//        ratio=<brook/baseline> ckpt_median_ms=... ckpt_max_ms=... checkpoints=N
//        state_mb=... recovery_s=... match=yes|no
//
// (checkpoint_lmdb: the same with the LMDB state backend.) The job is checkpoint_bench_job.h's:
// `keys` keys each holding one open window of 128 bytes of keyed state (--state-bytes / 128
// keys, 1 GiB by default), fed `--events` events (default 6 x keys: the first `keys` create
// the state, the rest update it uniformly at random).
//
// Throughput: the job runs twice in this process on the job manager and task manager of
// Brook's cluster (the same code as brook-jobmanager and brook-taskmanager, one slot,
// parallelism 1), first without checkpoints (baseline), then with checkpoints every
// --interval-ms (1000) into LMDB checkpoint storage in a scratch directory (brook). Each run
// is timed from submission to the job's end; both runs must produce the same window results
// (match=yes), which must also count every event once. Checkpoint durations are the
// end-to-end durations of the run's completed checkpoints (from the REST API, polled twice a
// second).
//
// Recovery (recovery_s): a real cluster of child processes -- brook-jobmanager (heartbeat
// interval 250 ms, timeout 1 s, fixed-delay restarts 100 ms apart) and two brook-taskmanager
// with 2 slots each -- runs the job from its library (libbrook_checkpoint_bench_job.so) at
// parallelism 2 (one pipeline per task manager, one spare slot each) with checkpoints every
// --interval-ms. Once a checkpoint holding the whole state has completed, one task manager is
// SIGKILLed; recovery_s is the time from the kill until the job, restarted from the latest
// completed checkpoint on the remaining slots, processes records again: the window vertex's
// records-in, as the job manager reports it (task managers send metrics with every heartbeat,
// so this is late by up to one interval), grows in the new attempt with every subtask RUNNING.
//
//   brook_checkpoint_bench checkpoint_memory|checkpoint_lmdb... [--state-bytes B]
//                          [--events N] [--interval-ms MS] [--rounds R]
//                          [--no-recovery | --recovery-only]
//
// --rounds R runs the pair (without, with checkpoints) R times, alternating, and reports the
// median time of each (default 1): the same run varies a lot from one to the next on a VM.
//
// --recovery-only measures recovery alone (for tuning it): its case line has recovery_s only.
// Each recovery measurement prints, on stderr, the processes' log lines that time its phases.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "brook/cluster/rest/http_client.h"
#include "brook/cluster/server/job_manager.h"
#include "brook/cluster/server/task_manager.h"
#include "brook/jobs/job_entry.h"
#include "checkpoint_bench_job.h"
#include "process_cluster.h"

extern "C" const brook::JobEntry* brook_job_entry();

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Settings {
  uint64_t state_bytes = uint64_t{1} << 30;
  uint64_t events = 0;  // 0: 6 x keys
  int interval_ms = 1000;
  bool recovery = true;
  bool throughput = true;
  int rounds = 1;  // pairs of runs (without, with checkpoints); the case line has their medians

  uint64_t keys() const {
    return std::max<uint64_t>(1, state_bytes / brook_bench::kCheckpointBenchStateBytesPerKey);
  }
  uint64_t total_events() const { return events > 0 ? events : 6 * keys(); }
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A scratch directory, removed afterwards.
struct ScratchDir {
  explicit ScratchDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("brook-checkpoint-bench-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

std::optional<json::value> GetJson(brook::http::HttpClient& client, const std::string& target) {
  auto result = client.Get(target);
  if (!result.ok()) return std::nullopt;
  boost::system::error_code ec;
  json::value value = json::parse(result.body, ec);
  if (ec) return std::nullopt;
  return value;
}

// Completed checkpoints seen so far: id -> (end-to-end ms, state bytes).
using CompletedCheckpoints = std::map<int64_t, std::pair<double, int64_t>>;

void CollectCheckpoints(brook::http::HttpClient& client, const std::string& job,
                        CompletedCheckpoints& completed, int* failed = nullptr) {
  auto body = GetJson(client, "/jobs/" + job + "/checkpoints");
  if (!body || !body->is_object()) return;
  const json::object& o = body->as_object();
  if (failed)
    if (auto* counts = o.if_contains("counts"))
      *failed = int(counts->as_object().at("failed").to_number<int64_t>());
  if (auto* history = o.if_contains("history")) {
    for (const json::value& c : history->as_array()) {
      const json::object& cp = c.as_object();
      if (cp.at("status").as_string() != "COMPLETED") continue;
      completed[cp.at("id").to_number<int64_t>()] = {cp.at("end_to_end_duration").to_number<double>(),
                                                     cp.at("state_size").to_number<int64_t>()};
    }
  }
}

std::vector<std::string> JobArgs(const Settings& settings, const std::string& backend,
                                 int interval_ms, const fs::path& lmdb_dir, uint64_t events) {
  return {"--events",  std::to_string(events),   "--keys",     std::to_string(settings.keys()),
          "--backend", backend,                  "--lmdb-dir", lmdb_dir.string(),
          "--checkpoint-interval", std::to_string(interval_ms)};
}

struct Run {
  double seconds = 0;
  uint64_t windows = 0;
  uint64_t events = 0;
  uint64_t checksum = 0;
  CompletedCheckpoints checkpoints;
  int failed_checkpoints = 0;
};

// One run of the job on a job manager and task manager in this process.
Run RunInProcess(const Settings& settings, const std::string& backend, int interval_ms) {
  ScratchDir scratch(backend + (interval_ms > 0 ? "-with" : "-without"));
  brook::JobManagerOptions jm_options;
  jm_options.rpc_port = 0;
  jm_options.rest_port = 0;
  jm_options.blob_dir = scratch.path / "blobs";
  jm_options.checkpoint_dir = scratch.path / "checkpoints";
  jm_options.state_dir = scratch.path / "jobmanager-state";
  jm_options.retained_checkpoints = 1;
  brook::JobManager jobmanager(jm_options);
  std::string error;
  if (!jobmanager.Start(&error)) throw std::runtime_error("job manager: " + error);
  brook::TaskManagerOptions tm_options;
  tm_options.jobmanager_port = jobmanager.rpc_port();
  tm_options.id = "bench";
  tm_options.slots = 1;
  tm_options.working_dir = scratch.path / "taskmanager";
  brook::TaskManager taskmanager(tm_options);
  if (!taskmanager.Start(&error)) throw std::runtime_error("task manager: " + error);
  for (int i = 0; i < 1000 && jobmanager.registered_task_managers() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  if (jobmanager.registered_task_managers() == 0)
    throw std::runtime_error("the task manager did not register");

  brook_bench::GlobalCheckpointBenchTotals().Reset();
  brook::http::HttpClient client("127.0.0.1", jobmanager.rest_port(), "", 10s);
  Run run;
  const auto start = Clock::now();
  const std::string id = jobmanager.RunInProcess(
      *brook_job_entry(),
      brook::JobArgs(JobArgs(settings, backend, interval_ms, scratch.path / "state",
                             settings.total_events())),
      1);
  brook::JobSummary summary;
  const auto deadline = start + 60min;
  auto next_poll = start;
  while (true) {
    summary = jobmanager.QueryJob(id);
    if (summary.terminal) break;
    if (Clock::now() > deadline) throw std::runtime_error("the job did not end within an hour");
    if (interval_ms > 0 && Clock::now() >= next_poll) {
      CollectCheckpoints(client, id, run.checkpoints);
      next_poll = Clock::now() + 500ms;
    }
    std::this_thread::sleep_for(20ms);
  }
  run.seconds = SecondsSince(start);
  if (summary.state != "FINISHED")
    throw std::runtime_error("the job ended " + summary.state + ": " + summary.root_exception);
  if (interval_ms > 0) CollectCheckpoints(client, id, run.checkpoints, &run.failed_checkpoints);
  const auto& totals = brook_bench::GlobalCheckpointBenchTotals();
  run.windows = totals.windows.load();
  run.events = totals.events.load();
  run.checksum = totals.checksum.load();
  return run;
}

// --- recovery on real processes ----------------------------------------------------------------

struct JobSample {
  int64_t attempt = -1;
  bool all_running = false;
  int64_t window_records_in = -1;
};

std::optional<JobSample> SampleJob(brook::http::HttpClient& client, const std::string& id) {
  auto body = GetJson(client, "/jobs/" + id);
  if (!body || !body->is_object()) return std::nullopt;
  const json::object& job = body->as_object();
  JobSample sample;
  sample.attempt = job.at("attempt").to_number<int64_t>();
  sample.all_running = job.at("state").as_string() == "RUNNING";
  for (const json::value& v : job.at("vertices").as_array()) {
    const json::object& vertex = v.as_object();
    if (vertex.at("status").as_string() != "RUNNING") sample.all_running = false;
    if (std::string_view(vertex.at("name").as_string()).find("profile per key") !=
        std::string_view::npos)
      sample.window_records_in =
          vertex.at("metrics").as_object().at("read-records").to_number<int64_t>();
  }
  return sample;
}

// `what` and the wall-clock time as the processes' logs print it.
void PrintWallClock(const char* what) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  std::fprintf(stderr, "%s%s.%03lld\n", what, text, (long long)ms.count());
}

// The lines of the processes' logs that time a recovery's phases (failure detection, restart,
// deployment, each task's restore), to stderr.
void PrintRecoveryLog(const std::string& logs) {
  std::istringstream in(logs);
  for (std::string line; std::getline(in, line);) {
    for (const char* word : {"lost", "failed", "restarting", "deploying", "restores", "restored",
                             "running", "---"}) {
      if (line.find(word) != std::string::npos) {
        std::fprintf(stderr, "recovery log: %s\n", line.c_str());
        break;
      }
    }
  }
}

// Seconds from SIGKILL of a task manager to records flowing again; throws on failure.
double MeasureRecovery(const Settings& settings, const std::string& backend) {
  brook::testing::ProcessCluster cluster({"heartbeat.interval=250ms", "heartbeat.timeout=1s",
                                          "restart-strategy.type=fixed-delay",
                                          "restart-strategy.fixed-delay.attempts=3",
                                          "restart-strategy.fixed-delay.delay=100ms"});
  cluster.AddTaskManager(2);
  brook::testing::ChildProcess& victim = cluster.AddTaskManager(2);
  cluster.WaitForTaskManagers(2);
  auto fail = [&](const std::string& what) -> double {
    throw std::runtime_error("recovery: " + what + "\n" + cluster.Logs());
  };

  // Enough events that the job is still running well after the kill (it is cancelled then).
  const uint64_t events = std::max<uint64_t>(settings.total_events(), 40 * settings.keys());
  std::vector<std::string> run = {"run", "--detached", "-p", "2", CHECKPOINT_BENCH_JOB, "--"};
  for (auto& a : JobArgs(settings, backend, settings.interval_ms, cluster.dir() / "state", events))
    run.push_back(a);
  const auto submitted = cluster.Brook(run);
  const std::string marker = "submitted job ";
  const auto at = submitted.output.find(marker);
  if (submitted.exit_code != 0 || at == std::string::npos) return fail("submit: " + submitted.output);
  const std::string id = submitted.output.substr(at + marker.size(), 32);
  brook::http::HttpClient client("127.0.0.1", cluster.rest_port(), cluster.token(), 10s);

  // Wait for a completed checkpoint that holds (nearly) the whole keyed state.
  const int64_t full_state = int64_t(settings.keys() * brook_bench::kCheckpointBenchStateBytesPerKey);
  CompletedCheckpoints completed;
  const auto wait_deadline = Clock::now() + 20min;
  for (;;) {
    completed.clear();
    CollectCheckpoints(client, id, completed);
    if (!completed.empty() && completed.rbegin()->second.second >= full_state) break;
    auto sample = SampleJob(client, id);
    if (sample && sample->attempt > 1) return fail("the job restarted before the kill");
    if (Clock::now() > wait_deadline) return fail("no checkpoint of the whole state in 20 minutes");
    std::this_thread::sleep_for(200ms);
  }
  const auto before = SampleJob(client, id);
  if (!before) return fail("cannot read the job");
  std::fprintf(stderr, "recovery: checkpoint %lld of %.0f MB completed; killing %s\n",
               (long long)completed.rbegin()->first, double(completed.rbegin()->second.second) / 1e6,
               victim.name().c_str());

  const auto killed = Clock::now();
  PrintWallClock("recovery: SIGKILL at ");
  victim.Kill(SIGKILL);
  victim.Wait(5s);
  std::optional<JobSample> previous;
  for (;;) {
    if (Clock::now() - killed > 120s) return fail("the job did not resume within 120 s");
    auto sample = SampleJob(client, id);
    const auto sampled = Clock::now();
    if (sample && sample->attempt > before->attempt && sample->all_running) {
      if (previous && previous->attempt == sample->attempt && previous->all_running &&
          sample->window_records_in > previous->window_records_in) {
        const double seconds = std::chrono::duration<double>(sampled - killed).count();
        PrintWallClock("recovery: records flow again at ");
        PrintRecoveryLog(cluster.Logs());
        cluster.Brook({"cancel", id}, 30s);
        return seconds;
      }
      previous = sample;
    }
    std::this_thread::sleep_for(50ms);
  }
}

// --- the cases -----------------------------------------------------------------------------------

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool RunCase(const Settings& settings, const std::string& name, const std::string& backend) {
  const uint64_t events = settings.total_events();
  std::fprintf(stderr, "case %s: %llu keys (%.0f MB of keyed state), %llu events\n", name.c_str(),
               (unsigned long long)settings.keys(),
               double(settings.keys() * brook_bench::kCheckpointBenchStateBytesPerKey) / 1e6,
               (unsigned long long)events);
  if (!settings.throughput) {
    const double seconds = MeasureRecovery(settings, backend);
    std::printf("case=%s recovery_s=%.2f (recovery only)\n", name.c_str(), seconds);
    std::fflush(stdout);
    return true;
  }
  // Rounds alternate the two runs, so that both meet the machine in the same states: on a VM
  // the same run varies by up to 2x with how fragmented memory is (huge pages for the tables).
  std::vector<double> without_seconds, with_seconds;
  std::vector<double> durations;
  int64_t max_state = 0;
  int failed_checkpoints = 0;
  bool match = true;
  for (int round = 0; round < settings.rounds; ++round) {
    const Run without = RunInProcess(settings, backend, 0);
    std::fprintf(stderr, "case %s: without checkpoints %.2f s\n", name.c_str(), without.seconds);
    const Run with = RunInProcess(settings, backend, settings.interval_ms);
    size_t completed = 0;
    for (const auto& [id, c] : with.checkpoints) {
      durations.push_back(c.first);
      max_state = std::max(max_state, c.second);
      ++completed;
    }
    std::fprintf(stderr, "case %s: with checkpoints %.2f s, %zu completed, %d failed\n",
                 name.c_str(), with.seconds, completed, with.failed_checkpoints);
    without_seconds.push_back(without.seconds);
    with_seconds.push_back(with.seconds);
    failed_checkpoints += with.failed_checkpoints;
    match = match && with.windows == without.windows && with.events == without.events &&
            with.checksum == without.checksum && without.windows == settings.keys() &&
            without.events == events;
  }
  std::string recovery = "n/a";
  if (settings.recovery) {
    const double seconds = MeasureRecovery(settings, backend);
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", seconds);
    recovery = text;
  }
  const double brook_seconds = Median(with_seconds), baseline_seconds = Median(without_seconds);
  const double brook_rate = double(events) / brook_seconds;
  const double baseline_rate = double(events) / baseline_seconds;
  std::printf(
      "case=%s brook=%.0f baseline=%.0f ratio=%.3f ckpt_median_ms=%.0f ckpt_max_ms=%.0f "
      "checkpoints=%zu failed_checkpoints=%d state_mb=%.0f events=%llu brook_s=%.2f "
      "baseline_s=%.2f rounds=%d recovery_s=%s match=%s\n",
      name.c_str(), brook_rate, baseline_rate, brook_rate / baseline_rate, Median(durations),
      durations.empty() ? 0.0 : *std::max_element(durations.begin(), durations.end()),
      durations.size(), failed_checkpoints, double(max_state) / 1e6, (unsigned long long)events,
      brook_seconds, baseline_seconds, settings.rounds, recovery.c_str(), match ? "yes" : "no");
  std::fflush(stdout);
  if (!match) std::fprintf(stderr, "case %s: MISMATCH\n", name.c_str());
  return match;
}

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr, "error: %s\n", error);
  std::fprintf(stderr,
               "usage: brook_checkpoint_bench [checkpoint_memory|checkpoint_lmdb...] "
               "[--state-bytes B] [--events N] [--interval-ms MS] [--rounds R]\n"
               "                              [--no-recovery | --recovery-only]\n");
  std::exit(2);
}

uint64_t ParseCount(const char* flag, const char* text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') Usage((std::string(flag) + " needs a number").c_str());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<std::string> cases;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](const char* flag) {
      if (i + 1 >= argc) Usage((std::string(flag) + " needs a value").c_str());
      return ParseCount(flag, argv[++i]);
    };
    if (arg == "--state-bytes") {
      settings.state_bytes = value("--state-bytes");
    } else if (arg == "--events") {
      settings.events = value("--events");
    } else if (arg == "--interval-ms") {
      settings.interval_ms = int(value("--interval-ms"));
      if (settings.interval_ms < 1) Usage("--interval-ms must be positive");
    } else if (arg == "--rounds") {
      settings.rounds = int(value("--rounds"));
      if (settings.rounds < 1) Usage("--rounds must be positive");
    } else if (arg == "--no-recovery") {
      settings.recovery = false;
    } else if (arg == "--recovery-only") {
      settings.throughput = false;
    } else if (arg == "checkpoint_memory" || arg == "checkpoint_lmdb") {
      cases.emplace_back(arg);
    } else {
      Usage(("unknown argument " + std::string(arg)).c_str());
    }
  }
  if (cases.empty()) cases = {"checkpoint_memory", "checkpoint_lmdb"};
  // Task managers are child processes; a broken pipe to one must not end the benchmark.
  ::signal(SIGPIPE, SIG_IGN);

  bool ok = true;
  try {
    for (const std::string& c : cases)
      ok = RunCase(settings, c, c == "checkpoint_lmdb" ? "lmdb" : "memory") && ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return ok ? 0 : 1;
}
