// Shuffle across processes: a generator on one task manager, a keyed count on another, over
// loopback TCP through Brook's network stack (NetworkEnvironment, NetworkChannelDirectory,
// credit-based network channels). The benchmark forks at start: the child is the producing
// task manager, the parent the consuming one; they talk over two pipes (ports, commands).
//
//   case=shuffle_tcp brook=<bytes/s> baseline=<bytes/s> ratio=<brook/baseline> records_per_s=...
//     Brook moves N records of 100 bytes (record bytes: what the job's records hold); the
//     baseline is a plain Boost.Asio write loop of the same number of bytes from the child to
//     the parent over loopback, in the same run. Best of --runs for each.
//   case=latency p50_us=... p99_us=... rate=... max_rate=...
//     The same job, fed at --rate-fraction (0.5) of the rate the shuffle reached at full speed,
//     with records stamped at the source (steady clock ns, which is system-wide on Linux, so
//     comparable across the two processes) and the consumer's sink computing end-to-end latency.
//     Buffer timeout: the default unless --buffer-timeout-ms.
//
//   brook_shuffle_bench CASE... [--events N] [--runs R] [--warmup N] [--latency-seconds S]
//                               [--rate-fraction F] [--buffer-timeout-ms T] [--keys K]
//                               [--credits C] [--buffer-kib B]
//
// --events is the number of records (default 5M, 500 MB); --warmup the records of a first,
// untimed job (default 500k).
//
// Both sides count what they see; the consumer checks the record count and a checksum of the
// running counts against a loop over the same keys, and the case fails (exit 1) on a mismatch.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "brook/brook.h"
#include "brook/cluster/channel_directory.h"
#include "brook/cluster/task_deployment.h"
#include "brook/runtime/network/network_environment.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

constexpr size_t kRecordBytes = 100;
constexpr char kToken[] = "brook-shuffle-bench";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

using brook::bench::SplitMix64;

// A 100-byte record: key, running count, source stamp, then payload. Trivially copyable, so its
// Serde is the memcpy fast path: exactly 100 bytes on the wire plus the record's timestamp byte.
struct Record {
  std::array<std::byte, kRecordBytes> bytes{};

  uint64_t Get(size_t offset) const {
    uint64_t v;
    std::memcpy(&v, bytes.data() + offset, sizeof v);
    return v;
  }
  void Set(size_t offset, uint64_t v) { std::memcpy(bytes.data() + offset, &v, sizeof v); }
  uint64_t key() const { return Get(0); }
  uint64_t count() const { return Get(8); }
  int64_t stamp_ns() const { return int64_t(Get(16)); }
};
static_assert(sizeof(Record) == kRecordBytes);

struct Settings {
  uint64_t records = 5'000'000;  // --events, as in the other drivers
  uint64_t warmup_records = 500'000;
  int runs = 3;
  uint64_t keys = 10'000;
  double latency_seconds = 5;
  double rate_fraction = 0.5;
  int buffer_timeout_ms = -1;  // -1: the defaults (NetworkOptions, StreamTaskOptions)
  int credits = -1;            // -1: NetworkOptions' default initial credits per channel
  int buffer_kib = -1;         // -1: NetworkOptions' default network buffer size
};

// What a job run is: sent from the parent to the child, which builds the same graph.
struct RunSpec {
  uint64_t job = 0;  // network JobId, new per run
  uint64_t records = 0;
  double rate = 0;  // records/s; 0: full speed
  bool stamp = false;
};

// --- the consumer's view of the job ------------------------------------------------------------

// What the consumer's sink saw: count, checksum of running counts, latency samples.
struct Observed {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> checksum{0};
  std::mutex mutex;
  std::vector<int64_t> latencies_ns;  // guarded by mutex
};

class ObservingSink {
 public:
  // Shared with the driver, who reads it after the job.
  ObservingSink(std::shared_ptr<Observed> observed, bool latency)
      : observed_(std::move(observed)), latency_(latency) {}
  void writeBatch(const brook::RecordBatch<Record>& batch) {
    uint64_t sum = 0;
    for (const auto& r : batch.records) sum += r.value.count();
    if (latency_) {
      const int64_t now = NowNs();
      std::lock_guard lock(observed_->mutex);
      for (const auto& r : batch.records) observed_->latencies_ns.push_back(now - r.value.stamp_ns());
    }
    observed_->records.fetch_add(batch.size(), std::memory_order_relaxed);
    observed_->checksum.fetch_add(sum, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<Observed> observed_;
  bool latency_;
};

// generator (vertex 0) -> keyBy -> running count per key (vertex 1) -> sink. Parallelism 1 on
// both sides: one channel, one producer and one consumer thread.
brook::JobGraph BuildJob(const RunSpec& spec, uint64_t keys, std::shared_ptr<Observed> observed) {
  brook::StreamEnvironment env;
  env.setParallelism(1);
  brook::GeneratorOptions options;
  options.count = spec.records;
  options.records_per_second = spec.rate;
  const bool stamp = spec.stamp;
  env.fromGenerator("records",
                    [keys, stamp](uint64_t i) {
                      Record r;
                      r.Set(0, SplitMix64(i) % keys);
                      r.Set(8, 1);
                      r.Set(16, stamp ? uint64_t(NowNs()) : 0);
                      r.Set(24, i);
                      return r;
                    },
                    options)
      .keyBy([](const Record& r) { return r.key(); })
      .reduce([](const Record& acc, const Record& next) {
        Record out = next;
        out.Set(8, acc.count() + 1);
        return out;
      })
      .sinkTo(ObservingSink(std::move(observed), spec.stamp), "observe");
  return env.BuildJobGraph("shuffle-bench");
}

// The consumer's expectation: records and the sum of the running counts every record gets.
uint64_t ExpectedChecksum(uint64_t records, uint64_t keys) {
  std::vector<uint64_t> counts(keys, 0);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < records; ++i) sum += ++counts[SplitMix64(i) % keys];
  return sum;
}

// --- one task manager's share of a job ----------------------------------------------------------

// Deploys the subtasks of `graph` that `producer_side` says are here, runs them on threads and
// tears them down in the documented order (threads, directory, tasks).
class Deployment {
 public:
  Deployment(brook::NetworkEnvironment& network, const RunSpec& spec, bool producer_side,
             const brook::PeerAddress& peer, std::shared_ptr<Observed> observed,
             uint64_t keys, int buffer_timeout_ms)
      : graph_(BuildJob(spec, keys, std::move(observed))) {
    brook::ChannelDirectoryOptions options;
    options.network_job = brook::JobId(spec.job);
    directory_ = std::make_unique<brook::NetworkChannelDirectory>(
        graph_,
        [&](brook::VertexId vertex, int) {
          const bool producer = vertex.value() == 0;
          return producer == producer_side ? brook::SubtaskPlace::Local()
                                           : brook::SubtaskPlace::At(peer);
        },
        &network, options);
    brook::DeploymentOptions deployment;
    deployment.job_id = "shuffle-bench-" + std::to_string(spec.job);
    if (buffer_timeout_ms >= 0)
      deployment.task.buffer_timeout = std::chrono::milliseconds(buffer_timeout_ms);
    for (auto [vertex, subtask] : directory_->local_subtasks())
      tasks_.push_back(brook::DeploySubtask(graph_, graph_.vertex(vertex), subtask, *directory_,
                                            deployment));
  }

  void Start() {
    for (auto& task : tasks_)
      threads_.emplace_back([this, t = task.get()] {
        try {
          t->Run();
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex_);
          error_ = t->name() + ": " + e.what();
        }
      });
  }

  // Joins the threads; returns the first task failure, empty if none.
  std::string Finish() {
    for (auto& t : threads_) t.join();
    threads_.clear();
    directory_.reset();
    tasks_.clear();
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  brook::JobGraph graph_;
  std::unique_ptr<brook::NetworkChannelDirectory> directory_;
  std::vector<std::unique_ptr<brook::StreamTask>> tasks_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::string error_;
};

brook::NetworkOptions NetworkOptionsFor(const Settings& settings) {
  brook::NetworkOptions options;
  options.cluster_token = kToken;
  if (settings.buffer_timeout_ms >= 0)
    options.buffer_timeout = std::chrono::milliseconds(settings.buffer_timeout_ms);
  if (settings.credits > 0) options.initial_credits = uint32_t(settings.credits);
  if (settings.buffer_kib > 0) options.buffer_bytes = size_t(settings.buffer_kib) << 10;
  return options;
}

// --- the pipes between the two processes ---------------------------------------------------------

class Pipe {
 public:
  // Takes over both descriptors.
  Pipe(int read_fd, int write_fd) : in_(fdopen(read_fd, "r")), out_(fdopen(write_fd, "w")) {}
  ~Pipe() {
    std::fclose(in_);
    std::fclose(out_);  // the other side reads end of file
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void Send(const std::string& line) {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }
  // The next line; throws if the other process is gone.
  std::string Receive() {
    char buffer[256];
    if (!std::fgets(buffer, sizeof buffer, in_))
      throw std::runtime_error("the other benchmark process went away");
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }

 private:
  FILE* in_;
  FILE* out_;
};

// --- the child: the producing task manager and the raw sender -------------------------------------

// Commands: "blast <port> <bytes>", "job <id> <records> <rate> <stamp>", "quit".
int RunChild(Pipe& pipe, const Settings& settings) {
  brook::NetworkEnvironment network(NetworkOptionsFor(settings));
  std::string error;
  if (!network.Start(&error)) {
    std::fprintf(stderr, "child: network: %s\n", error.c_str());
    return 1;
  }
  pipe.Send(std::to_string(network.port()));
  const uint16_t parent_port = uint16_t(std::stoi(pipe.Receive()));
  const brook::PeerAddress parent{"127.0.0.1", parent_port};
  std::vector<char> chunk(64 * 1024, 'x');
  for (;;) {
    const std::string command = pipe.Receive();
    if (command == "quit") return 0;
    if (command.rfind("blast ", 0) == 0) {
      unsigned port = 0;
      unsigned long long bytes = 0;
      std::sscanf(command.c_str(), "blast %u %llu", &port, &bytes);
      asio::io_context io;
      asio::ip::tcp::socket socket(io);
      socket.connect({asio::ip::make_address("127.0.0.1"), uint16_t(port)});
      socket.set_option(asio::ip::tcp::no_delay(true));
      for (uint64_t sent = 0; sent < bytes;) {
        const size_t n = size_t(std::min<uint64_t>(chunk.size(), bytes - sent));
        asio::write(socket, asio::buffer(chunk.data(), n));
        sent += n;
      }
      socket.shutdown(asio::ip::tcp::socket::shutdown_send);
      pipe.Send("sent");
      continue;
    }
    RunSpec spec;
    unsigned long long job = 0, records = 0;
    int stamp = 0;
    std::sscanf(command.c_str(), "job %llu %llu %lf %d", &job, &records, &spec.rate, &stamp);
    spec.job = job;
    spec.records = records;
    spec.stamp = stamp != 0;
    Deployment deployment(network, spec, /*producer_side=*/true, parent,
                          std::make_shared<Observed>(), settings.keys,
                          settings.buffer_timeout_ms);
    deployment.Start();
    const std::string failure = deployment.Finish();
    pipe.Send(failure.empty() ? "done" : "failed " + failure);
  }
}

// --- the parent: the consuming task manager, the raw receiver, the cases ---------------------------

class Parent {
 public:
  Parent(Pipe& pipe, const Settings& settings)
      : pipe_(pipe), settings_(settings), network_(NetworkOptionsFor(settings)),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    std::string error;
    if (!network_.Start(&error)) throw std::runtime_error("network: " + error);
    child_ = {"127.0.0.1", uint16_t(std::stoi(pipe_.Receive()))};
    pipe_.Send(std::to_string(network_.port()));
  }

  ~Parent() {
    try {
      pipe_.Send("quit");
    } catch (...) {
    }
  }

  // Seconds for the child to write `bytes` to us over a fresh loopback connection, read here.
  double Blast(uint64_t bytes) {
    const auto start = Clock::now();
    pipe_.Send("blast " + std::to_string(acceptor_.local_endpoint().port()) + " " +
               std::to_string(bytes));
    asio::ip::tcp::socket socket(io_);
    acceptor_.accept(socket);
    std::vector<char> buffer(256 * 1024);
    uint64_t received = 0;
    boost::system::error_code ec;
    while (received < bytes) {
      const size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (ec) break;
      received += n;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (received != bytes)
      throw std::runtime_error("raw blast: received " + std::to_string(received) + " of " +
                               std::to_string(bytes) + " bytes");
    if (pipe_.Receive() != "sent") throw std::runtime_error("raw blast: the child failed");
    return seconds;
  }

  struct JobOutcome {
    double seconds = 0;
    uint64_t records = 0;
    uint64_t checksum = 0;
    std::vector<int64_t> latencies_ns;
  };

  // Runs one job across the two processes; seconds from the start command to the consumer's end.
  JobOutcome Job(uint64_t records, double rate, bool stamp) {
    RunSpec spec{++next_job_, records, rate, stamp};
    auto observed = std::make_shared<Observed>();
    if (stamp) observed->latencies_ns.reserve(size_t(records));
    Deployment deployment(network_, spec, /*producer_side=*/false, child_, observed,
                          settings_.keys, settings_.buffer_timeout_ms);
    deployment.Start();
    const auto start = Clock::now();
    char command[160];
    std::snprintf(command, sizeof command, "job %llu %llu %.3f %d", (unsigned long long)spec.job,
                  (unsigned long long)records, rate, stamp ? 1 : 0);
    pipe_.Send(command);
    const std::string failure = deployment.Finish();
    JobOutcome outcome;
    outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::string child = pipe_.Receive();
    if (!failure.empty()) throw std::runtime_error("consumer failed: " + failure);
    if (child != "done") throw std::runtime_error("producer: " + child);
    outcome.records = observed->records.load();
    outcome.checksum = observed->checksum.load();
    outcome.latencies_ns = std::move(observed->latencies_ns);
    return outcome;
  }

  bool ShuffleTcp() {
    const uint64_t n = settings_.records;
    const uint64_t bytes = n * kRecordBytes;
    const uint64_t expected = ExpectedChecksum(n, settings_.keys);
    if (settings_.warmup_records > 0)  // warm-up: connections, allocators
      Job(std::min(n, settings_.warmup_records), 0, false);
    Blast(bytes / 10);
    double brook_s = 0, raw_s = 0;
    bool match = true;
    for (int r = 0; r < settings_.runs; ++r) {
      const JobOutcome job = Job(n, 0, false);
      const double raw = Blast(bytes);
      std::fprintf(stderr, "shuffle_tcp run %d: brook %.3f s (%llu records), raw tcp %.3f s\n",
                   r + 1, job.seconds, (unsigned long long)job.records, raw);
      match = match && job.records == n && job.checksum == expected;
      if (r == 0 || job.seconds < brook_s) brook_s = job.seconds;
      if (r == 0 || raw < raw_s) raw_s = raw;
    }
    max_rate_ = double(n) / brook_s;
    const double brook_rate = double(bytes) / brook_s;
    const double raw_rate = double(bytes) / raw_s;
    std::printf(
        "case=shuffle_tcp brook=%.0f baseline=%.0f ratio=%.3f records_per_s=%.0f "
        "brook_mb_s=%.1f baseline_mb_s=%.1f records=%llu record_bytes=%zu brook_s=%.3f "
        "baseline_s=%.3f match=%s\n",
        brook_rate, raw_rate, brook_rate / raw_rate, double(n) / brook_s, brook_rate / 1e6,
        raw_rate / 1e6, (unsigned long long)n, kRecordBytes, brook_s, raw_s, match ? "yes" : "no");
    std::fflush(stdout);
    return match;
  }

  bool Latency() {
    if (max_rate_ == 0) {  // not measured by shuffle_tcp in this run: measure it now
      const uint64_t n = std::min<uint64_t>(settings_.records, 2'000'000);
      if (settings_.warmup_records > 0) Job(std::min(n, settings_.warmup_records), 0, false);
      double best = 0;
      for (int r = 0; r < std::max(1, settings_.runs); ++r) {
        const JobOutcome job = Job(n, 0, false);
        best = r == 0 ? job.seconds : std::min(best, job.seconds);
      }
      max_rate_ = double(n) / best;
    }
    const double rate = max_rate_ * settings_.rate_fraction;
    const uint64_t n = std::max<uint64_t>(1000, uint64_t(rate * settings_.latency_seconds));
    JobOutcome job = Job(n, rate, true);
    const bool match = job.records == n && job.checksum == ExpectedChecksum(n, settings_.keys);
    // The first tenth is the start-up (connections, first allocations): left out.
    std::vector<int64_t> samples(job.latencies_ns.begin() + ptrdiff_t(job.latencies_ns.size() / 10),
                                 job.latencies_ns.end());
    if (samples.empty()) throw std::runtime_error("latency: no samples");
    std::sort(samples.begin(), samples.end());
    auto percentile = [&](double p) {
      return double(samples[std::min(samples.size() - 1, size_t(p * double(samples.size())))]) / 1e3;
    };
    const brook::NetworkOptions network_defaults;
    const int buffer_timeout_ms = settings_.buffer_timeout_ms >= 0
                                      ? settings_.buffer_timeout_ms
                                      : int(network_defaults.buffer_timeout.count());
    std::printf(
        "case=latency p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f rate=%.0f max_rate=%.0f "
        "records=%llu achieved_rate=%.0f buffer_timeout_ms=%d match=%s\n",
        percentile(0.5), percentile(0.99), percentile(0.999), double(samples.back()) / 1e3, rate,
        max_rate_, (unsigned long long)n, double(n) / job.seconds, buffer_timeout_ms,
        match ? "yes" : "no");
    std::fflush(stdout);
    return match;
  }

 private:
  Pipe& pipe_;
  const Settings settings_;
  brook::NetworkEnvironment network_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  brook::PeerAddress child_;
  uint64_t next_job_ = 0;
  double max_rate_ = 0;  // records/s at full speed, measured by shuffle_tcp or Latency()
};

[[noreturn]] void Usage(const char* error) {
  std::fprintf(stderr,
               "error: %s\nusage: brook_shuffle_bench [shuffle_tcp] [latency] [--events N] "
               "[--runs R] [--warmup N] [--keys K] [--latency-seconds S] [--rate-fraction F] "
               "[--buffer-timeout-ms T] [--credits C] [--buffer-kib B]\n",
               error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<std::string> cases;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage(("missing value for " + std::string(arg)).c_str());
      return argv[++i];
    };
    try {
      if (arg == "--events") settings.records = std::stoull(value());
      else if (arg == "--warmup") settings.warmup_records = std::stoull(value());
      else if (arg == "--runs") settings.runs = std::stoi(value());
      else if (arg == "--keys") settings.keys = std::stoull(value());
      else if (arg == "--latency-seconds") settings.latency_seconds = std::stod(value());
      else if (arg == "--rate-fraction") settings.rate_fraction = std::stod(value());
      else if (arg == "--buffer-timeout-ms") settings.buffer_timeout_ms = std::stoi(value());
      else if (arg == "--credits") settings.credits = std::stoi(value());
      else if (arg == "--buffer-kib") settings.buffer_kib = std::stoi(value());
      else if (arg == "shuffle_tcp" || arg == "latency") cases.emplace_back(arg);
      else Usage(("unknown argument " + std::string(arg)).c_str());
    } catch (const std::logic_error&) {
      Usage(("bad value for " + std::string(arg)).c_str());
    }
  }
  if (settings.records == 0 || settings.runs < 1 || settings.keys == 0 ||
      settings.rate_fraction <= 0 || settings.latency_seconds <= 0)
    Usage("--events, --runs, --keys, --rate-fraction and --latency-seconds must be positive");
  if (cases.empty()) cases = {"shuffle_tcp", "latency"};

  // Fork first, before any thread exists.
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    close(to_child[1]);
    close(to_parent[0]);
    Pipe pipe(to_child[0], to_parent[1]);
    int rc = 1;
    try {
      rc = RunChild(pipe, settings);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    std::fflush(nullptr);
    _exit(rc);
  }
  close(to_child[0]);
  close(to_parent[1]);
  bool ok = true;
  {
    Pipe pipe(to_parent[0], to_child[1]);
    try {
      Parent parent(pipe, settings);
      for (const auto& c : cases) ok = (c == "shuffle_tcp" ? parent.ShuffleTcp() : parent.Latency()) && ok;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      ok = false;
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
