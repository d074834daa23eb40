// Async I/O end to end: enrichment against a "remote" store that answers on its own threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <brook/brook.h>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <vector>

#include "brook/cluster/mini_cluster.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

// (record id, looked-up value)
using Enriched = std::pair<int64_t, int64_t>;

int64_t ValueOf(int64_t id) { return id * 7 + 1; }

// A stand-in for a remote key-value store: a few worker threads answer each request after a
// random 0-5 ms delay, on their own thread, as a network client's I/O threads would. Requests
// are answered in order of their due time, not of arrival, so answers overtake each other.
// Requests still pending when the service is destroyed are never answered.
class FakeRemoteStore {
 public:
  explicit FakeRemoteStore(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~FakeRemoteStore() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  FakeRemoteStore(const FakeRemoteStore&) = delete;
  FakeRemoteStore& operator=(const FakeRemoteStore&) = delete;

  // Runs `reply` on a worker thread after a random delay.
  void Call(std::function<void()> reply) {
    {
      std::lock_guard lock(mutex_);
      auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 5000)(rng_));
      requests_.push(Request{std::chrono::steady_clock::now() + delay, seq_++, std::move(reply)});
    }
    cv_.notify_one();
  }

 private:
  struct Request {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    std::function<void()> reply;
    bool operator>(const Request& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  void Work() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (requests_.empty()) {
        cv_.wait(lock);
      } else if (requests_.top().due > std::chrono::steady_clock::now()) {
        // A copy: a Call() while we wait may reallocate the queue under a reference.
        const auto due = requests_.top().due;
        cv_.wait_until(lock, due);
      } else {
        auto reply = requests_.top().reply;
        requests_.pop();
        lock.unlock();
        reply();
        lock.lock();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Request, std::vector<Request>, std::greater<>> requests_;  // guarded
  std::mt19937 rng_{42};                                                        // guarded
  uint64_t seq_ = 0;                                                            // guarded
  bool stopping_ = false;                                                       // guarded
  std::vector<std::thread> workers_;
};

struct AsyncRun {
  int64_t count = 20'000;
  bool ordered = true;
  // Ids the store never answers (their lookups time out); none if unset.
  std::function<bool(int64_t)> unanswered = {};
  std::chrono::milliseconds timeout = 10s;
  bool with_fallback = false;
};

struct AsyncRunResult {
  JobResult job;
  std::vector<Enriched> values;  // in the order the sink received them
  int64_t lookups_started = 0;
};

// Source (ids 0..count-1, 64 strided splits) -> async lookup -> collect, at parallelism 2.
AsyncRunResult RunEnrichment(const AsyncRun& run) {
  // Declared first, destroyed last: replies may arrive after the job has ended.
  auto store = std::make_shared<FakeRemoteStore>(4);
  auto started = std::make_shared<std::atomic<int64_t>>(0);
  auto results = std::make_shared<CollectedRecords<Enriched>>();
  StreamEnvironment env;
  env.setParallelism(2);
  GeneratorOptions options;
  options.count = uint64_t(run.count);
  auto ids = env.fromGenerator("ids", [](uint64_t i) { return int64_t(i); }, options);
  auto lookup = [store, started, unanswered = run.unanswered](const int64_t& id,
                                                               ResultFuture<Enriched> future) {
    started->fetch_add(1);
    if (unanswered && unanswered(id)) return;  // lost in the network
    store->Call([id, future] { future.Complete({Enriched{id, ValueOf(id)}}); });
  };
  AsyncDataStream::TimeoutFn<int64_t, Enriched> fallback;
  if (run.with_fallback) fallback = [](const int64_t& id) { return std::vector{Enriched{id, -1}}; };
  auto enriched = run.ordered
                      ? AsyncDataStream::orderedWait(ids, lookup, run.timeout, 100, fallback)
                      : AsyncDataStream::unorderedWait(ids, lookup, run.timeout, 100, fallback);
  enriched.name("profile lookup").sinkTo(CollectSink<Enriched>(results));
  MiniCluster cluster;
  AsyncRunResult out;
  out.job = cluster.Execute(env.BuildJobGraph("async enrichment"));
  out.values = results->values();
  out.lookups_started = started->load();
  return out;
}

// Every id in [0, count) exactly once, with `expected(id)` as its value.
void ExpectEachIdOnce(const std::vector<Enriched>& values, int64_t count,
                      const std::function<int64_t(int64_t)>& expected) {
  std::vector<int> seen(size_t(count), 0);
  for (const auto& [id, value] : values) {
    ASSERT_GE(id, 0);
    ASSERT_LT(id, count);
    ++seen[size_t(id)];
    EXPECT_EQ(value, expected(id)) << "id " << id;
  }
  EXPECT_EQ(int64_t(values.size()), count);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), count) << "some id missing or duplicated";
}

TEST(AsyncIo, OrderedWaitEnrichesEveryRecordOnceInInputOrder) {
  AsyncRunResult r = RunEnrichment({.count = 20'000, .ordered = true});
  ASSERT_TRUE(r.job.ok()) << r.job.error;
  EXPECT_EQ(r.lookups_started, 20'000);
  ExpectEachIdOnce(r.values, 20'000, ValueOf);
  // A split (id % 64) is read by one subtask in increasing id order; ordered mode keeps it.
  std::map<int64_t, int64_t> last_of_split;
  int64_t out_of_order = 0;
  for (const auto& [id, value] : r.values) {
    auto [it, first] = last_of_split.try_emplace(id % 64, id);
    if (!first && it->second > id) ++out_of_order;
    it->second = id;
  }
  EXPECT_EQ(out_of_order, 0);
}

TEST(AsyncIo, UnorderedWaitEnrichesEveryRecordOnce) {
  AsyncRunResult r = RunEnrichment({.count = 20'000, .ordered = false});
  ASSERT_TRUE(r.job.ok()) << r.job.error;
  EXPECT_EQ(r.lookups_started, 20'000);
  ExpectEachIdOnce(r.values, 20'000, ValueOf);
}

bool Lost(int64_t id) { return id % 97 == 13; }

TEST(AsyncIo, UnansweredLookupsYieldTheFallbackForExactlyThoseRecords) {
  AsyncRunResult r = RunEnrichment({.count = 20'000,
                                    .ordered = false,
                                    .unanswered = Lost,
                                    .timeout = 250ms,
                                    .with_fallback = true});
  ASSERT_TRUE(r.job.ok()) << r.job.error;
  ExpectEachIdOnce(r.values, 20'000, [](int64_t id) { return Lost(id) ? -1 : ValueOf(id); });
}

TEST(AsyncIo, OrderedModeEmitsTheFallbackInPlace) {
  // Each lost lookup holds back the ones behind it for the timeout, so fewer records. The
  // timeout is 50x the slowest answer, so only lost lookups time out, even on a loaded machine.
  AsyncRunResult r = RunEnrichment(
      {.count = 500, .ordered = true, .unanswered = Lost, .timeout = 250ms, .with_fallback = true});
  ASSERT_TRUE(r.job.ok()) << r.job.error;
  ExpectEachIdOnce(r.values, 500, [](int64_t id) { return Lost(id) ? -1 : ValueOf(id); });
}

TEST(AsyncIo, ATimeoutWithoutFallbackFailsTheJobNamingTheOperator) {
  AsyncRunResult r = RunEnrichment(
      {.count = 2'000, .ordered = false, .unanswered = Lost, .timeout = 30ms});
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  EXPECT_NE(r.job.error.find("profile lookup"), std::string::npos) << r.job.error;
  EXPECT_NE(r.job.error.find("async lookup timed out after 30 ms"), std::string::npos)
      << r.job.error;
}

TEST(AsyncIo, AnExceptionalCompletionFailsTheJob) {
  auto store = std::make_shared<FakeRemoteStore>(2);
  StreamEnvironment env;
  GeneratorOptions options;
  options.count = 1'000;
  auto ids = env.fromGenerator("ids", [](uint64_t i) { return int64_t(i); }, options);
  AsyncDataStream::unorderedWait(
      ids,
      [store](const int64_t& id, ResultFuture<Enriched> future) {
        store->Call([id, future] {
          if (id == 321) future.CompleteExceptionally("store rejected id 321");
          else future.Complete({Enriched{id, ValueOf(id)}});
        });
      },
      1s, 10)
      .name("profile lookup")
      .sinkTo([](const Enriched&) {});
  MiniCluster cluster;
  JobResult result = cluster.Execute(env.BuildJobGraph("failing lookup"));
  EXPECT_EQ(result.status, JobStatus::kFailed);
  EXPECT_NE(result.error.find("profile lookup"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("store rejected id 321"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace brook
