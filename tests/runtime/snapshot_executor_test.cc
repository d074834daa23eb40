#include "brook/runtime/snapshot_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace brook {
namespace {

TEST(SnapshotExecutor, RunsEverySubmittedJobBeforeStopReturns) {
  SnapshotExecutor executor(2);
  EXPECT_FALSE(executor.Submit([] {}));  // not started
  executor.Start();
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(executor.Submit([&] { ran.fetch_add(1); }));
  executor.Submit([] { throw std::runtime_error("a failing job does not stop the others"); });
  for (int i = 0; i < 100; ++i) executor.Submit([&] { ran.fetch_add(1); });
  executor.Stop();
  EXPECT_EQ(ran.load(), 200);
  EXPECT_FALSE(executor.Submit([] {}));
  executor.Stop();  // idempotent
}

}  // namespace
}  // namespace brook
