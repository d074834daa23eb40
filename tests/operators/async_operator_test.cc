#include "brook/operators/async_operator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

// Stands in for the task's mailbox. Mail is queued from any thread; the thread playing the task
// runs it with RunAll(), or waits for it in Yield(), which also fires due timers as
// StreamTask::Yield does.
class FakeMailbox final : public MailboxExecutor {
 public:
  explicit FakeMailbox(ProcessingTimeService* timers) : timers_(timers) {}

  bool Execute(TaskMailbox::Mail mail) override {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(mail));
    }
    cv_.notify_all();
    return true;
  }

  void Yield() override {
    yields_.fetch_add(1);
    std::unique_lock lock(mutex_);
    while (true) {
      if (!queue_.empty()) {
        TaskMailbox::Mail mail = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        mail();
        return;
      }
      auto deadline = timers_->NextDeadline();
      if (deadline && *deadline <= ProcessingTimeService::Now()) {
        lock.unlock();
        timers_->FireDue(ProcessingTimeService::Now());
        return;
      }
      if (deadline)
        cv_.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::milliseconds(*deadline)));
      else
        cv_.wait(lock);
    }
  }

  // Runs mail until none is left; returns how many ran.
  int RunAll() {
    int ran = 0;
    while (true) {
      TaskMailbox::Mail mail;
      {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return ran;
        mail = std::move(queue_.front());
        queue_.pop_front();
      }
      mail();
      ++ran;
    }
  }

  size_t pending() {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  int yields() const { return yields_.load(); }

 private:
  ProcessingTimeService* timers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<TaskMailbox::Mail> queue_;  // guarded by mutex_
  std::atomic<int> yields_{0};
};

// The operator's output as one sequence, so tests see records and watermarks interleaved:
// "v1@10" is value "v1" at timestamp 10, "W25" the watermark 25.
class EventLog final : public Output<std::string> {
 public:
  void Push(RecordBatch<std::string>& batch) override {
    for (auto& r : batch.records) events.push_back(r.value + "@" + std::to_string(r.timestamp));
  }
  void EmitWatermark(Watermark wm) override { events.push_back("W" + std::to_string(wm.timestamp)); }
  void EmitWatermarkStatus(WatermarkStatus) override {}
  void EmitLatencyMarker(const LatencyMarker&) override {}
  void Flush() override {}

  std::vector<std::string> events;
};

using Events = std::vector<std::string>;

// The "remote service" of these tests: remembers each lookup, so a test completes them when,
// where and how it likes. Thread-safe: the capacity test reads it from another thread.
struct Lookups {
  std::mutex mutex;
  std::vector<ResultFuture<std::string>> futures;  // guarded by mutex, in start order

  size_t size() {
    std::lock_guard lock(mutex);
    return futures.size();
  }
  ResultFuture<std::string> operator[](size_t i) {
    std::lock_guard lock(mutex);
    return futures.at(i);
  }
};

using LookupFn = std::function<void(const int&, ResultFuture<std::string>)>;
using Operator = AsyncWaitOperator<int, std::string, LookupFn>;

// An opened AsyncWaitOperator<int, std::string> whose lookups land in `lookups`.
struct AsyncHarness {
  explicit AsyncHarness(AsyncOutputMode mode, size_t capacity = 10,
                        std::chrono::milliseconds timeout = 0ms, Operator::TimeoutFn fallback = {})
      : lookups(std::make_shared<Lookups>()),
        h(std::make_unique<Operator>(
            [l = lookups](const int&, ResultFuture<std::string> future) {
              std::lock_guard lock(l->mutex);
              l->futures.push_back(future);
            },
            mode, timeout, capacity, std::move(fallback))),
        mailbox(&h.timers) {
    h.context.mailbox = &mailbox;
    h.op->SetMainOutput(&log);
    h.Open();
  }

  void Process(std::vector<StreamRecord<int>> records) { h.Process<int>(std::move(records)); }
  void ProcessWatermark(Timestamp t) { h.op->ProcessWatermark(Watermark{t}); }
  void Complete(size_t i, std::string value) { (*lookups)[i].Complete({std::move(value)}); }
  Operator& op() { return static_cast<Operator&>(*h.op); }

  std::shared_ptr<Lookups> lookups;
  testing::OperatorHarness<std::string> h;
  FakeMailbox mailbox;
  EventLog log;
};

TEST(AsyncWaitOperator, OrderedModeKeepsInputOrderWhenCompletionsArriveInReverse) {
  AsyncHarness a(AsyncOutputMode::kOrdered);
  a.Process({{1, 10}, {2, 20}});
  a.ProcessWatermark(25);
  a.Process({{3, 30}});
  ASSERT_EQ(a.lookups->size(), 3u);
  a.Complete(2, "v3");
  a.Complete(1, "v2");
  a.mailbox.RunAll();
  EXPECT_TRUE(a.log.events.empty()) << "nothing may pass the head of the queue";
  a.Complete(0, "v1");
  a.mailbox.RunAll();
  EXPECT_EQ(a.log.events, (Events{"v1@10", "v2@20", "W25", "v3@30"}));
}

TEST(AsyncWaitOperator, UnorderedModeEmitsInCompletionOrderButNeverAcrossAWatermark) {
  AsyncHarness a(AsyncOutputMode::kUnordered);
  a.Process({{1, 1}, {2, 2}});
  a.ProcessWatermark(10);
  a.Process({{3, 11}, {4, 12}});
  a.Complete(3, "v4");  // after the watermark: waits for it
  a.mailbox.RunAll();
  EXPECT_TRUE(a.log.events.empty());
  a.Complete(1, "v2");  // before it: leaves at once, ahead of v1
  a.mailbox.RunAll();
  EXPECT_EQ(a.log.events, (Events{"v2@2"}));
  a.Complete(0, "v1");  // the segment is empty: the watermark leaves, then v4
  a.mailbox.RunAll();
  EXPECT_EQ(a.log.events, (Events{"v2@2", "v1@1", "W10", "v4@12"}));
  a.Complete(2, "v3");
  a.mailbox.RunAll();
  a.ProcessWatermark(20);  // nothing pending: passes straight through
  EXPECT_EQ(a.log.events, (Events{"v2@2", "v1@1", "W10", "v4@12", "v3@11", "W20"}));
}

TEST(AsyncWaitOperator, ALookupMayYieldZeroOrSeveralRecordsWithTheInputTimestamp) {
  AsyncHarness a(AsyncOutputMode::kOrdered);
  a.Process({{1, 7}, {2, 8}});
  (*a.lookups)[0].Complete({});
  (*a.lookups)[1].Complete({"x", "y"});
  a.mailbox.RunAll();
  EXPECT_EQ(a.log.events, (Events{"x@8", "y@8"}));
}

TEST(AsyncWaitOperator, AFullQueueMakesProcessBatchWaitInYieldUntilASlotFrees) {
  AsyncHarness a(AsyncOutputMode::kOrdered, /*capacity=*/3);
  std::atomic<bool> batch_done{false};
  // This thread plays the task thread from here until it is joined.
  std::thread task([&] {
    a.Process({{1, 0}, {2, 0}, {3, 0}, {4, 0}});
    batch_done = true;
  });
  auto wait_for = [](auto condition) {
    for (auto until = std::chrono::steady_clock::now() + 5s;
         !condition() && std::chrono::steady_clock::now() < until;)
      std::this_thread::sleep_for(1ms);
    return condition();
  };
  ASSERT_TRUE(wait_for([&] { return a.lookups->size() == 3; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(a.lookups->size(), 3u) << "a 4th lookup started with 3 in flight";
  EXPECT_FALSE(batch_done);
  EXPECT_EQ(a.mailbox.yields(), 1) << "waiting must block in Yield(), not spin";
  a.Complete(0, "v1");  // from this thread, as a lookup client would
  ASSERT_TRUE(wait_for([&] { return batch_done.load(); }));
  task.join();
  EXPECT_EQ(a.lookups->size(), 4u);
  for (size_t i = 1; i < 4; ++i) a.Complete(i, "v" + std::to_string(i + 1));
  a.mailbox.RunAll();
  EXPECT_EQ(a.log.events, (Events{"v1@0", "v2@0", "v3@0", "v4@0"}));
}

TEST(AsyncWaitOperator, ATimedOutLookupYieldsTheFallbackAndItsLateResultIsIgnored) {
  AsyncHarness a(AsyncOutputMode::kOrdered, 10, 50ms,
                 [](const int& v) { return std::vector<std::string>{"fallback" + std::to_string(v)}; });
  a.Process({{1, 5}, {2, 6}});
  a.Complete(1, "v2");
  a.mailbox.RunAll();
  a.h.timers.FireDue(ProcessingTimeService::Now() + 60'000);
  EXPECT_EQ(a.log.events, (Events{"fallback1@5", "v2@6"}));
  a.Complete(0, "late");
  EXPECT_EQ(a.mailbox.pending(), 0u);
  EXPECT_EQ(a.log.events.size(), 2u);
}

TEST(AsyncWaitOperator, ATimeoutWithoutFallbackFailsNamingTheOperator) {
  AsyncHarness a(AsyncOutputMode::kUnordered, 10, 50ms);
  a.Process({{1, 0}});
  try {
    a.h.timers.FireDue(ProcessingTimeService::Now() + 60'000);
    FAIL() << "a timeout without fallback must fail";
  } catch (const OperatorFailure& e) {
    EXPECT_EQ(e.operator_name(), "op (1/1)");
    EXPECT_EQ(e.cause(), "async lookup timed out after 50 ms");
  }
}

TEST(AsyncWaitOperator, FinishWaitsForTimeoutsThroughYield) {
  AsyncHarness a(AsyncOutputMode::kOrdered, 10, 20ms,
                 [](const int&) { return std::vector<std::string>{"fallback"}; });
  a.Process({{1, 0}});
  a.op().Finish();  // the fake Yield() fires the timer once it is due
  EXPECT_EQ(a.log.events, (Events{"fallback@0"}));
}

TEST(AsyncWaitOperator, FinishWaitsForEveryLookupToBeEmitted) {
  AsyncHarness a(AsyncOutputMode::kUnordered);
  a.Process({{1, 0}, {2, 0}});
  std::thread client([&] {
    std::this_thread::sleep_for(20ms);
    a.Complete(1, "v2");
    a.Complete(0, "v1");
  });
  a.op().Finish();
  client.join();
  EXPECT_EQ(a.log.events, (Events{"v2@0", "v1@0"}));
}

TEST(AsyncWaitOperator, CompleteExceptionallyFailsTheTaskWithTheError) {
  AsyncHarness a(AsyncOutputMode::kOrdered);
  a.Process({{1, 0}});
  (*a.lookups)[0].CompleteExceptionally("profile store unavailable");
  try {
    a.mailbox.RunAll();
    FAIL() << "an exceptional completion must fail";
  } catch (const OperatorFailure& e) {
    EXPECT_EQ(e.operator_name(), "op (1/1)");
    EXPECT_NE(e.cause().find("profile store unavailable"), std::string::npos) << e.what();
  }
}

TEST(AsyncWaitOperator, OnlyTheFirstCompletionCounts) {
  AsyncHarness a(AsyncOutputMode::kOrdered);
  a.Process({{1, 0}});
  auto future = (*a.lookups)[0];
  future.Complete({"first"});
  auto copy = future;
  copy.Complete({"second"});
  copy.CompleteExceptionally("too late to fail");
  EXPECT_EQ(a.mailbox.RunAll(), 1);
  EXPECT_EQ(a.log.events, (Events{"first@0"}));
}

TEST(AsyncWaitOperator, CompletionsAfterCloseOrDestructionAreDropped) {
  AsyncHarness a(AsyncOutputMode::kOrdered);
  a.Process({{1, 0}, {2, 0}, {3, 0}});
  a.Complete(0, "before close");  // queued, but runs only after Close
  a.op().Close();
  a.Complete(1, "after close");
  EXPECT_EQ(a.mailbox.pending(), 1u) << "a closed operator posts nothing";
  a.mailbox.RunAll();
  a.h.op.reset();
  a.Complete(2, "after destruction");  // the future outlives the operator
  EXPECT_EQ(a.mailbox.pending(), 0u);
  EXPECT_TRUE(a.log.events.empty());
}

}  // namespace
}  // namespace brook
