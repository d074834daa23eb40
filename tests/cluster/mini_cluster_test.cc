#include "brook/cluster/mini_cluster.h"

#include <gtest/gtest.h>

#include <atomic>
#include <brook/brook.h>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace brook {
namespace {

using Words = std::pair<std::string, int64_t>;

const std::vector<std::string> kLines = {
    "to be or not to be", "that is the question", "whether tis nobler in the mind to suffer",
    "the slings and arrows of outrageous fortune", "or to take arms against a sea of troubles"};

// Word count over many generated lines: flatMap -> keyBy -> reduce, collected.
std::vector<Words> RunWordCount(int parallelism) {
  StreamEnvironment env;
  env.setParallelism(parallelism);
  auto results = std::make_shared<CollectedRecords<Words>>();
  GeneratorOptions options;
  options.count = 20'000;
  env.fromGenerator("lines", [](uint64_t i) { return kLines[i % kLines.size()]; }, options)
      .flatMap([](const std::string& line, Collector<Words>& out) {
        size_t start = 0;
        while (start <= line.size()) {
          size_t end = std::min(line.find(' ', start), line.size());
          if (end > start) out.collect({line.substr(start, end - start), 1});
          start = end + 1;
        }
      })
      .keyBy([](const Words& w) { return w.first; })
      .reduce([](const Words& a, const Words& b) { return Words{a.first, a.second + b.second}; })
      .sinkTo(CollectSink<Words>(results));
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("wordcount"));
  EXPECT_TRUE(result.ok()) << result.error;
  auto values = results->values();
  std::sort(values.begin(), values.end());
  return values;
}

TEST(MiniCluster, ParallelismOneAndFourYieldTheSameResults) {
  auto p1 = RunWordCount(1);
  auto p4 = RunWordCount(4);
  EXPECT_EQ(p1, p4);
  // Independently: "to" appears 4 times per 5 lines (3 in line 0... count by hand below).
  std::map<std::string, int64_t> expected;
  for (uint64_t i = 0; i < 20'000; ++i) {
    std::istringstream words(kLines[i % kLines.size()]);
    std::string w;
    while (words >> w) ++expected[w];
  }
  std::map<std::string, int64_t> final_counts;
  for (const auto& [word, count] : p4) final_counts[word] = std::max(final_counts[word], count);
  EXPECT_EQ(final_counts, expected);
}

TEST(MiniCluster, UnionRebalanceAndBroadcastDeliverEveryRecord) {
  StreamEnvironment env;
  env.setParallelism(3);
  auto results = std::make_shared<CollectedRecords<int64_t>>();
  auto broadcast_results = std::make_shared<CollectedRecords<int64_t>>();
  GeneratorOptions options;
  options.count = 1000;
  auto a = env.fromGenerator("a", [](uint64_t i) { return int64_t(i); }, options);
  auto b = env.fromGenerator("b", [](uint64_t i) { return -int64_t(i) - 1; }, options);
  a.unionWith(b).rebalance().map([](const int64_t& v) { return v * 2; })
      .sinkTo(CollectSink<int64_t>(results));
  a.broadcast().sinkTo(CollectSink<int64_t>(broadcast_results)).setParallelism(2);
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("union"));
  ASSERT_TRUE(result.ok()) << result.error;
  auto values = results->values();
  std::sort(values.begin(), values.end());
  ASSERT_EQ(values.size(), 2000u);
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(values[size_t(1000 + i)], 2 * i);
    EXPECT_EQ(values[size_t(999 - i)], -2 * (i + 1));
  }
  EXPECT_EQ(broadcast_results->size(), 2000u);  // each of 2 sink subtasks got all 1000
}

TEST(MiniCluster, SideOutputsReachTheirOwnSinks) {
  StreamEnvironment env;
  env.setParallelism(2);
  OutputTag<std::string> invalid("invalid");
  auto good = std::make_shared<CollectedRecords<int64_t>>();
  auto bad = std::make_shared<CollectedRecords<std::string>>();
  GeneratorOptions options;
  options.count = 100;
  auto checked = env.fromGenerator("numbers", [](uint64_t i) { return int64_t(i); }, options)
                     .process([invalid](const int64_t& v, ProcessContext& ctx,
                                        Collector<int64_t>& out) {
                       if (v % 10 == 0) ctx.output(invalid, "multiple of ten: " + std::to_string(v));
                       else out.collect(v);
                     });
  checked.sinkTo(CollectSink<int64_t>(good));
  checked.getSideOutput(invalid).sinkTo(CollectSink<std::string>(bad)).setParallelism(1);
  MiniCluster cluster;
  ASSERT_TRUE(cluster.Execute(env.BuildJobGraph("sides")).ok());
  EXPECT_EQ(good->size(), 90u);
  EXPECT_EQ(bad->size(), 10u);
}

TEST(MiniCluster, ReadsAFileAndWritesPartFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("brook_mc_files_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "in");
  std::filesystem::create_directories(dir / "out");
  {
    std::ofstream in(dir / "in" / "numbers.txt");
    for (int i = 0; i < 500; ++i) in << i << "\n";
  }
  StreamEnvironment env;
  env.readTextFile((dir / "in").string())
      .map([](const std::string& line) { return std::stoll(line) * 3; })
      .rebalance()
      .filter([](const long long& v) { return v % 2 == 0; })
      .setParallelism(2)
      .sinkTo(FileSink<long long>((dir / "out").string()))
      .setParallelism(2);
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("files"));
  ASSERT_TRUE(result.ok()) << result.error;
  std::multiset<long long> got;
  for (const char* part : {"part-0", "part-1"}) {
    std::ifstream in(dir / "out" / part);
    long long v;
    while (in >> v) got.insert(v);
  }
  std::multiset<long long> expected;
  for (int i = 0; i < 500; i += 2) expected.insert(3LL * i);
  EXPECT_EQ(got, expected);
  std::filesystem::remove_all(dir);
}

// A sink slower than its source: the channels fill up and the source stalls, so the records
// in flight stay bounded by the channel capacities instead of growing with time.
TEST(MiniCluster, ASlowSinkBoundsTheRecordsInFlight) {
  auto produced = std::make_shared<std::atomic<int64_t>>(0);
  auto consumed = std::make_shared<std::atomic<int64_t>>(0);
  StreamEnvironment env;
  env.setParallelism(2);
  env.fromGenerator("fast", [](uint64_t i) { return int64_t(i); })  // unbounded
      .map([produced](const int64_t& v) {
        produced->fetch_add(1, std::memory_order_relaxed);
        return v;
      })
      .keyBy([](const int64_t& v) { return v % 100; })
      .sinkTo([consumed](const int64_t&) {
        if (consumed->fetch_add(1, std::memory_order_relaxed) % 256 == 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
      });
  MiniClusterOptions options;
  options.channel_capacity = 4;
  MiniCluster cluster(options);
  auto job = cluster.Submit(env.BuildJobGraph("backpressure"));
  // Bound: per channel, its queue plus one batch each side in hand, plus the batch in the
  // chain; 2 producers x 2 consumers channels.
  const int64_t bound = 4 * (int64_t(options.channel_capacity) + 3) * int64_t(kDefaultBatchSize);
  int64_t max_in_flight = 0;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    max_in_flight = std::max(max_in_flight, produced->load() - consumed->load());
  }
  EXPECT_GT(consumed->load(), 0);
  EXPECT_LE(max_in_flight, bound);
  EXPECT_GT(produced->load(), 0);
  // The source really was held back: far fewer produced than an unthrottled generator makes.
  EXPECT_LT(produced->load(), 5'000'000);
  job->Cancel();
  JobResult result = job->Wait();
  EXPECT_EQ(result.status, JobStatus::kCanceled);
}

TEST(MiniCluster, AUserExceptionFailsTheJobNamingTheOperator) {
  StreamEnvironment env;
  env.setParallelism(2);
  GeneratorOptions options;
  options.count = 100'000;
  env.fromGenerator("numbers", [](uint64_t i) { return int64_t(i); }, options)
      .rebalance()
      .map([](const int64_t& v) {
        if (v == 4242) throw std::runtime_error("cannot handle 4242");
        return v;
      })
      .name("fragile parser")
      .print();
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("failing"));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_NE(result.error.find("fragile parser"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("cannot handle 4242"), std::string::npos) << result.error;
  EXPECT_NE(result.failed_task.find("fragile parser"), std::string::npos) << result.failed_task;
}

TEST(MiniCluster, AFailingSinkFinishFailsTheJob) {
  struct FailsAtEnd {
    void operator()(const int64_t&) {}
    void finish() { throw std::runtime_error("flush failed"); }
  };
  StreamEnvironment env;
  GeneratorOptions options;
  options.count = 10;
  env.fromGenerator("n", [](uint64_t i) { return int64_t(i); }, options)
      .sinkTo(FailsAtEnd{}, "flaky sink");
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("finish"));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_NE(result.error.find("flaky sink"), std::string::npos) << result.error;
}

int ThreadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

TEST(MiniCluster, CancellationEndsEveryThread) {
  const int threads_before = ThreadCount();
  StreamEnvironment env;
  env.setParallelism(3);
  env.fromGenerator("endless", [](uint64_t i) { return int64_t(i); })
      .keyBy([](const int64_t& v) { return v % 7; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
      .rebalance()
      .sinkTo([](const int64_t&) { std::this_thread::sleep_for(std::chrono::microseconds(1)); })
      .setParallelism(1);
  MiniCluster cluster;
  auto job = cluster.Submit(env.BuildJobGraph("endless"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(job->status(), JobStatus::kRunning);
  EXPECT_EQ(job->running_tasks(), 7);
  job->Cancel();
  auto result = job->WaitFor(std::chrono::seconds(10));
  ASSERT_TRUE(result.has_value()) << "tasks did not stop after cancel";
  EXPECT_EQ(result->status, JobStatus::kCanceled);
  EXPECT_EQ(job->running_tasks(), 0);
  EXPECT_EQ(ThreadCount(), threads_before);
}

TEST(MiniCluster, IdleTasksParkInsteadOfSpinning) {
  // A rate-limited source leaves every task idle most of the time; parked tasks use almost
  // no CPU. (CPU time of the process, not wall time, so a loaded machine does not matter.)
  StreamEnvironment env;
  env.setParallelism(4);
  GeneratorOptions options;
  options.records_per_second = 200;
  env.fromGenerator("slow", [](uint64_t i) { return int64_t(i); }, options)
      .keyBy([](const int64_t& v) { return v; })
      .sinkTo([](const int64_t&) {});
  MiniCluster cluster;
  auto cpu = [] { return double(std::clock()) / CLOCKS_PER_SEC; };
  auto job = cluster.Submit(env.BuildJobGraph("idle"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double before = cpu();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  double used = cpu() - before;
  job->Cancel();
  job->Wait();
  EXPECT_LT(used, 0.25) << "8 tasks used " << used << " s of CPU in 1 s while idle";
}

TEST(MiniCluster, TaskMetricsCountRecordsInAndOut) {
  StreamEnvironment env;
  env.setParallelism(2);
  GeneratorOptions options;
  options.count = 5000;
  env.fromGenerator("n", [](uint64_t i) { return int64_t(i); }, options)
      .keyBy([](const int64_t& v) { return v; })
      .sinkTo([](const int64_t&) {});
  MiniCluster cluster;
  ASSERT_TRUE(cluster.Execute(env.BuildJobGraph("metrics")).ok());
  int64_t in = 0, out = 0;
  for (const auto& e : cluster.metrics().Snapshot()) {
    if (auto* c = std::get_if<std::shared_ptr<Counter>>(&e.metric)) {
      if (e.name == "numRecordsIn") in += (*c)->value();
      if (e.name == "numRecordsOut") out += (*c)->value();
    }
  }
  EXPECT_EQ(in, 5000);
  EXPECT_EQ(out, 5000);
}

}  // namespace
}  // namespace brook
