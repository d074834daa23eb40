// NetworkChannelDirectory: one job split across two "task managers" in this process, each with
// its own NetworkEnvironment on 127.0.0.1, its own copy of the job graph (built by the same
// code, as task managers build it from the job library), its own directory and one thread per
// subtask placed on it. The results must be exactly those of the MiniCluster, whatever the mix
// of local and network channels; record types without a Serde fail deployment when they would
// cross; cancellation ends every thread on both sides.
#include "brook/cluster/channel_directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <brook/brook.h>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "brook/cluster/mini_cluster.h"
#include "brook/cluster/task_deployment.h"
#include "brook/runtime/network/network_environment.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "channel-directory-test-token";

// JobIds of the tests' network channels: new for every job run, as per ChannelId.
JobId NextNetworkJob() {
  static std::atomic<uint64_t> next{1000};
  return JobId(next.fetch_add(1));
}

// Which of the two task managers runs (vertex, subtask).
using Owner = std::function<int(VertexId vertex, int subtask)>;

// One task manager: a network environment, the job graph, the directory of the subtasks placed
// on it and a thread per subtask. Mirrors what a task manager process does with a deployment.
class TestTaskManager {
 public:
  explicit TestTaskManager(int index) : index_(index), network_(Options()) {
    std::string error;
    started_ = network_.Start(&error);
    EXPECT_TRUE(started_) << error;
  }

  ~TestTaskManager() {
    Cancel();
    EXPECT_TRUE(Join(20s)) << "task manager " << index_ << ": threads did not end";
    Release();
  }

  PeerAddress address() const { return network_.address(); }
  NetworkEnvironment& network() { return network_; }

  // Makes the directory for the subtasks `owner` places here (peers: every task manager's
  // address, by index) and starts their threads. Throws what the directory throws.
  void Deploy(JobGraph graph, const Owner& owner, const std::vector<PeerAddress>& peers,
              JobId network_job) {
    graph_ = std::make_unique<JobGraph>(std::move(graph));
    ChannelDirectoryOptions options;
    options.network_job = network_job;
    directory_ = std::make_unique<NetworkChannelDirectory>(
        *graph_,
        [&](VertexId vertex, int subtask) {
          const int at = owner(vertex, subtask);
          return at == index_ ? SubtaskPlace::Local() : SubtaskPlace::At(peers[size_t(at)]);
        },
        &network_, options);
    DeploymentOptions deployment;
    deployment.job_id = "tm" + std::to_string(index_) + "-" + std::to_string(network_job.value());
    for (auto [vertex, subtask] : directory_->local_subtasks())
      tasks_.push_back(
          DeploySubtask(*graph_, graph_->vertex(vertex), subtask, *directory_, deployment));
    for (auto& task : tasks_) {
      running_.fetch_add(1);
      threads_.emplace_back([this, t = task.get()] {
        try {
          t->Run();
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex_);
          errors_.push_back(t->name() + ": " + e.what());
        }
        running_.fetch_sub(1);
      });
    }
  }

  // True once every thread has ended, false after `timeout`.
  bool Join(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running_.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    if (running_.load() > 0) return false;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    return true;
  }

  void Cancel() {
    for (auto& task : tasks_) task->Cancel();
    if (directory_) directory_->Cancel();
  }

  // After Join(): the directory first (its receivers know the tasks' notifiers), then the tasks.
  void Release() {
    directory_.reset();
    tasks_.clear();
  }

  std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  size_t task_count() const { return tasks_.size(); }
  const NetworkChannelDirectory& directory() const { return *directory_; }
  bool started() const { return started_; }

 private:
  static NetworkOptions Options() {
    NetworkOptions options;
    options.cluster_token = kToken;
    return options;
  }

  const int index_;
  NetworkEnvironment network_;
  bool started_ = false;
  std::unique_ptr<JobGraph> graph_;
  std::unique_ptr<NetworkChannelDirectory> directory_;
  std::vector<std::unique_ptr<StreamTask>> tasks_;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> errors_;
};

// Two task managers running one job; the destructor cancels and tears both down.
struct TwoTaskManagers {
  TestTaskManager a{0};
  TestTaskManager b{1};

  // Deploys on b first, then a: the consumer side may come before its producers.
  void Deploy(const std::function<JobGraph()>& build, const Owner& owner) {
    const std::vector<PeerAddress> peers = {a.address(), b.address()};
    const JobId job = NextNetworkJob();
    b.Deploy(build(), owner, peers, job);
    a.Deploy(build(), owner, peers, job);
  }
};

using Count = std::pair<int64_t, int64_t>;  // key, records with this key so far

// generator -> map (its own vertex, behind a FORWARD network edge) -> keyBy -> count -> sink.
JobGraph BuildCountJob(const std::shared_ptr<CollectedRecords<Count>>& results, uint64_t events,
                       int parallelism) {
  StreamEnvironment env;
  env.setParallelism(parallelism);
  GeneratorOptions options;
  options.count = events;
  env.fromGenerator("numbers", [](uint64_t i) { return int64_t(i); }, options)
      .map([](const int64_t& v) { return Count{v % 101, 1}; })
      .startNewChain()
      .keyBy([](const Count& c) { return c.first; })
      .reduce([](const Count& x, const Count& y) { return Count{x.first, x.second + y.second}; })
      .sinkTo(CollectSink<Count>(results));
  return env.BuildJobGraph("count");
}

std::vector<Count> Sorted(const CollectedRecords<Count>& records) {
  auto values = records.values();
  std::sort(values.begin(), values.end());
  return values;
}

std::vector<Count> RunOnMiniCluster(uint64_t events, int parallelism) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  MiniCluster cluster;
  JobResult result = cluster.Execute(BuildCountJob(results, events, parallelism));
  EXPECT_TRUE(result.ok()) << result.error;
  return Sorted(*results);
}

// Runs the count job on two task managers placed by `owner` and returns the sorted results.
std::vector<Count> RunOnTwoTaskManagers(uint64_t events, int parallelism, const Owner& owner,
                                        size_t* network_channels = nullptr) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  TwoTaskManagers tms;
  tms.Deploy([&] { return BuildCountJob(results, events, parallelism); }, owner);
  EXPECT_TRUE(tms.a.Join(60s));
  EXPECT_TRUE(tms.b.Join(60s));
  EXPECT_TRUE(tms.a.errors().empty()) << tms.a.errors().front();
  EXPECT_TRUE(tms.b.errors().empty()) << tms.b.errors().front();
  if (network_channels) {
    *network_channels = 0;
    for (TestTaskManager* tm : {&tms.a, &tms.b})
      *network_channels += tm->directory().network_sender_count() +
                           tm->directory().network_receiver_count();
  }
  EXPECT_EQ(tms.a.task_count() + tms.b.task_count(), size_t(3 * parallelism));
  return Sorted(*results);
}

// The count job's vertices, as BuildCountJob makes them.
constexpr int kSourceVertex = 0;
constexpr int kMapVertex = 1;

TEST(NetworkChannelDirectory, ShuffleAcrossTaskManagersMatchesMiniCluster) {
  constexpr uint64_t kEvents = 30'000;
  const auto expected = RunOnMiniCluster(kEvents, 3);
  ASSERT_EQ(expected.size(), kEvents);
  EXPECT_EQ(expected.back(), (Count{100, int64_t(kEvents / 101) + (100 < kEvents % 101 ? 1 : 0)}));

  // Sources and maps on a, the keyed count on b: every shuffle channel crosses.
  size_t network_channels = 0;
  auto split = RunOnTwoTaskManagers(
      kEvents, 3, [](VertexId v, int) { return v.value() <= kMapVertex ? 0 : 1; },
      &network_channels);
  EXPECT_EQ(split, expected);
  EXPECT_EQ(network_channels, 2u * 9u);  // 9 shuffle channels, a sender and a receiver each
}

TEST(NetworkChannelDirectory, MixedLocalAndRemoteChannelsMatchMiniCluster) {
  constexpr uint64_t kEvents = 30'000;
  const auto expected = RunOnMiniCluster(kEvents, 3);
  // Subtasks alternate between the task managers, shifted per vertex: forward edges cross for
  // some subtasks and not for others, and every shuffle has local and remote channels.
  size_t network_channels = 0;
  auto mixed = RunOnTwoTaskManagers(
      kEvents, 3, [](VertexId v, int s) { return (v.value() + s) % 2; }, &network_channels);
  EXPECT_EQ(mixed, expected);
  EXPECT_GT(network_channels, 0u);
  // And everything on b, with a idle: only local channels, no network.
  auto all_on_b = RunOnTwoTaskManagers(kEvents, 3, [](VertexId, int) { return 1; },
                                       &network_channels);
  EXPECT_EQ(all_on_b, expected);
  EXPECT_EQ(network_channels, 0u);
}

TEST(NetworkChannelDirectory, CancellationMidStreamEndsEveryThreadOnBothSides) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  TwoTaskManagers tms;
  tms.Deploy([&] { return BuildCountJob(results, GeneratorOptions::kUnbounded, 2); },
             [](VertexId v, int s) { return (v.value() + s) % 2; });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (results->size() < 10'000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(results->size(), 10'000u) << "the job did not get going";
  tms.a.Cancel();
  tms.b.Cancel();
  EXPECT_TRUE(tms.a.Join(20s));
  EXPECT_TRUE(tms.b.Join(20s));
  EXPECT_TRUE(tms.a.errors().empty()) << tms.a.errors().front();
  EXPECT_TRUE(tms.b.errors().empty()) << tms.b.errors().front();
}

TEST(NetworkChannelDirectory, ATaskManagerThatGoesAwayFailsItsPeersTasksInsteadOfHangingThem) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  TwoTaskManagers tms;
  tms.Deploy([&] { return BuildCountJob(results, GeneratorOptions::kUnbounded, 2); },
             [](VertexId v, int s) { return (v.value() + s) % 2; });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (results->size() < 10'000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(results->size(), 10'000u) << "the job did not get going";
  // Only a is cancelled and releases its channels: b's tasks must not wait for it forever.
  tms.a.Cancel();
  ASSERT_TRUE(tms.a.Join(20s));
  tms.a.Release();
  EXPECT_TRUE(tms.b.Join(20s));
  EXPECT_FALSE(tms.b.errors().empty());
}

// No Serde: not trivially copyable, no serialize(), no Serde specialization.
struct Opaque {
  std::string text;
};

JobGraph BuildOpaqueJob(const std::shared_ptr<CollectedRecords<int64_t>>& results) {
  StreamEnvironment env;
  env.setParallelism(2);
  GeneratorOptions options;
  options.count = 1000;
  env.fromGenerator("opaque", [](uint64_t i) { return Opaque{std::to_string(i)}; }, options)
      .rebalance()
      .map([](const Opaque& o) { return int64_t(o.text.size()); })
      .sinkTo(CollectSink<int64_t>(results));
  return env.BuildJobGraph("opaque");
}

TEST(NetworkChannelDirectory, RecordTypeWithoutSerdeRunsLocallyButFailsToCrossProcesses) {
  static_assert(!Serializable<Opaque>);
  auto results = std::make_shared<CollectedRecords<int64_t>>();
  MiniCluster cluster;
  JobResult local = cluster.Execute(BuildOpaqueJob(results));
  ASSERT_TRUE(local.ok()) << local.error;
  EXPECT_EQ(results->size(), 1000u);

  // Source on a, map on b: the rebalance edge would carry Opaque over the network.
  TestTaskManager a(0), b(1);
  const std::vector<PeerAddress> peers = {a.address(), b.address()};
  const Owner owner = [](VertexId v, int) { return v.value() == kSourceVertex ? 0 : 1; };
  for (TestTaskManager* tm : {&b, &a}) {
    try {
      tm->Deploy(BuildOpaqueJob(results), owner, peers, NextNetworkJob());
      ADD_FAILURE() << "deployment of a non-serializable type across processes succeeded";
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("Opaque"), std::string::npos) << message;
      EXPECT_NE(message.find("has no Serde and cannot cross processes"), std::string::npos)
          << message;
    }
    EXPECT_EQ(tm->task_count(), 0u);
  }
  // Nothing was opened: no connection between the two.
  EXPECT_EQ(a.network().connection_count(), 0u);
  EXPECT_EQ(b.network().connection_count(), 0u);
}

TEST(NetworkChannelDirectory, TypeInfoRefusesNetworkChannelsForTypesWithoutSerde) {
  TestTaskManager tm(0);
  const ChannelId id{JobId(1), 0, SubtaskIndex(0), SubtaskIndex(0)};
  EXPECT_FALSE(TypeInfoFor<Opaque>()->serializable());
  EXPECT_THROW(TypeInfoFor<Opaque>()->MakeNetworkSender(tm.network().OpenOutbound(id), 64),
               std::invalid_argument);
  EXPECT_THROW(TypeInfoFor<Opaque>()->MakeNetworkReceiver(tm.network().OpenInbound(id, tm.address())),
               std::invalid_argument);
  EXPECT_TRUE(TypeInfoFor<Count>()->serializable());
  const ChannelId other{JobId(1), 1, SubtaskIndex(0), SubtaskIndex(0)};
  EXPECT_NE(TypeInfoFor<Count>()->MakeNetworkSender(tm.network().OpenOutbound(other), 64), nullptr);
}

TEST(NetworkChannelDirectory, RemoteSubtaskWithoutNetworkEnvironmentIsRefused) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  JobGraph graph = BuildCountJob(results, 10, 2);
  try {
    NetworkChannelDirectory directory(
        graph,
        [](VertexId v, int) {
          return v.value() == kSourceVertex ? SubtaskPlace::At({"127.0.0.1", 1})
                                            : SubtaskPlace::Local();
        },
        nullptr, {});
    ADD_FAILURE() << "a remote subtask was accepted without a network environment";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no network environment"), std::string::npos) << e.what();
  }
}

TEST(NetworkChannelDirectory, AsksForChannelsOfSubtasksPlacedElsewhereAreRefused) {
  auto results = std::make_shared<CollectedRecords<Count>>();
  JobGraph graph = BuildCountJob(results, 10, 2);
  TestTaskManager tm(0);
  // Subtask 1 of every vertex is elsewhere.
  NetworkChannelDirectory directory(
      graph,
      [&](VertexId, int s) {
        return s == 0 ? SubtaskPlace::Local() : SubtaskPlace::At({"127.0.0.1", 1});
      },
      &tm.network(), {});
  EXPECT_TRUE(directory.is_local(VertexId(kMapVertex), 0));
  EXPECT_FALSE(directory.is_local(VertexId(kMapVertex), 1));
  EXPECT_EQ(directory.local_subtasks().size(), 3u);
  const JobEdge* shuffle = graph.InputsOf(VertexId(2)).front();
  EXPECT_EQ(directory.OutputChannels(*shuffle, 0).size(), 2u);  // one per consumer, in order
  EXPECT_EQ(directory.InputChannels(*shuffle, 0).size(), 2u);
  EXPECT_THROW(directory.OutputChannels(*shuffle, 1), std::invalid_argument);
  EXPECT_THROW(directory.InputChannels(*shuffle, 1), std::invalid_argument);
  JobEdge foreign = *shuffle;  // a copy: not an edge of the directory's graph
  EXPECT_THROW(directory.OutputChannels(foreign, 0), std::invalid_argument);
  directory.Cancel();
}

}  // namespace
}  // namespace brook
