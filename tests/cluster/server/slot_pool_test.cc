#include "brook/cluster/server/slot_pool.h"

#include <gtest/gtest.h>

#include <map>

namespace brook::server {
namespace {

std::map<std::string, int> CountPerTaskManager(const std::vector<SlotId>& slots) {
  std::map<std::string, int> counts;
  for (const SlotId& slot : slots) ++counts[slot.task_manager_id];
  return counts;
}

TEST(SlotPool, SlotsNeededIsTheLargestParallelism) {
  const int parallelisms[] = {2, 4, 1};
  EXPECT_EQ(SlotPool::SlotsNeeded(parallelisms), 4);
  EXPECT_EQ(SlotPool::SlotsNeeded({}), 0);
}

TEST(SlotPool, SpreadsSlotsEvenlyAcrossTaskManagers) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 4));
  ASSERT_TRUE(pool.AddTaskManager("tm-b", 4));
  auto slots = pool.Allocate("job-1", 4);
  ASSERT_TRUE(slots) << slots.error().message;
  EXPECT_EQ(slots.value(),
            (std::vector<SlotId>{{"tm-a", 0}, {"tm-b", 0}, {"tm-a", 1}, {"tm-b", 1}}));
  EXPECT_EQ(pool.free_slots(), 4);
  EXPECT_EQ(pool.total_slots(), 8);
}

TEST(SlotPool, PrefersTheTaskManagerWithMostFreeSlots) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 2));
  ASSERT_TRUE(pool.AddTaskManager("tm-b", 6));
  ASSERT_TRUE(pool.AddTaskManager("tm-c", 3));
  auto slots = pool.Allocate("job-1", 6);
  ASSERT_TRUE(slots);
  // Free (a b c): 2 6 3 -> 2 5 3 -> 2 4 3 -> 2 3 3 -> 2 2 3 (tie: smallest id) -> 2 2 2 -> 1 2 2.
  EXPECT_EQ(CountPerTaskManager(slots.value()),
            (std::map<std::string, int>{{"tm-a", 1}, {"tm-b", 4}, {"tm-c", 1}}));
  // Left free: a 1, b 2, c 2: the next job lands on b (the smaller id of the tie).
  auto next = pool.Allocate("job-2", 1);
  ASSERT_TRUE(next);
  EXPECT_EQ(next.value()[0].task_manager_id, "tm-b");
}

TEST(SlotPool, InsufficientSlotsTakesNothingAndSaysWhy) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 2));
  ASSERT_TRUE(pool.AddTaskManager("tm-b", 1));
  ASSERT_TRUE(pool.Allocate("small", 1));
  auto refused = pool.Allocate("big", 3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ServerErrc::kResourceExhausted);
  EXPECT_EQ(refused.error().message,
            "job big needs 3 slots, but only 2 of 3 are free on 2 task managers");
  EXPECT_EQ(pool.free_slots(), 2);
  EXPECT_TRUE(pool.SlotsOf("big").empty());
  EXPECT_TRUE(pool.Allocate("big", 2));
}

TEST(SlotPool, ReleaseFreesTheJobsSlots) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 3));
  ASSERT_TRUE(pool.Allocate("job-1", 2));
  ASSERT_TRUE(pool.Allocate("job-2", 1));
  EXPECT_EQ(pool.free_slots(), 0);
  EXPECT_EQ(pool.Release("job-1"), 2);
  EXPECT_EQ(pool.Release("job-1"), 0);
  EXPECT_EQ(pool.Release("never-seen"), 0);
  EXPECT_EQ(pool.free_slots(), 2);
  EXPECT_EQ(pool.SlotsOf("job-2"), (std::vector<SlotId>{{"tm-a", 2}}));
  // The freed slots are reused, lowest index first.
  EXPECT_EQ(pool.Allocate("job-3", 2).value(), (std::vector<SlotId>{{"tm-a", 0}, {"tm-a", 1}}));
}

TEST(SlotPool, RemovingATaskManagerNamesTheJobsThatLostSlots) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 1));
  ASSERT_TRUE(pool.AddTaskManager("tm-b", 2));
  ASSERT_TRUE(pool.AddTaskManager("tm-c", 2));
  EXPECT_EQ(pool.Allocate("spread", 3).value(),  // one slot on each
            (std::vector<SlotId>{{"tm-b", 0}, {"tm-c", 0}, {"tm-a", 0}}));
  ASSERT_TRUE(pool.Allocate("on-b-and-c", 2));  // a is full
  EXPECT_EQ(pool.SlotsOf("on-b-and-c"), (std::vector<SlotId>{{"tm-b", 1}, {"tm-c", 1}}));
  EXPECT_EQ(pool.RemoveTaskManager("tm-a"), (std::vector<std::string>{"spread"}));
  EXPECT_EQ(pool.total_slots(), 4);
  EXPECT_EQ(pool.free_slots(), 0);
  EXPECT_EQ(pool.SlotsOf("spread"), (std::vector<SlotId>{{"tm-b", 0}, {"tm-c", 0}}));
  EXPECT_EQ(pool.RemoveTaskManager("tm-b"), (std::vector<std::string>{"on-b-and-c", "spread"}));
  EXPECT_TRUE(pool.RemoveTaskManager("tm-b").empty());
  // The jobs release what they still hold, then restart on what is left.
  EXPECT_EQ(pool.Release("spread"), 1);
  EXPECT_EQ(pool.Release("on-b-and-c"), 1);
  EXPECT_EQ(pool.free_slots(), 2);
  EXPECT_EQ(pool.Allocate("spread", 2).value(), (std::vector<SlotId>{{"tm-c", 0}, {"tm-c", 1}}));
}

TEST(SlotPool, ATaskManagerCanRejoinUnderItsIdAfterRemoval) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 1));
  ASSERT_TRUE(pool.Allocate("job", 1));
  EXPECT_EQ(pool.RemoveTaskManager("tm-a"), (std::vector<std::string>{"job"}));
  EXPECT_TRUE(pool.SlotsOf("job").empty());
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 2));
  EXPECT_EQ(pool.free_slots(), 2);
  EXPECT_EQ(pool.Release("job"), 0);  // its slots vanished with the task manager
  EXPECT_TRUE(pool.Allocate("job", 2));
}

TEST(SlotPool, RejectsBadRequests) {
  SlotPool pool;
  EXPECT_EQ(pool.AddTaskManager("tm-a", 0).error().code, ServerErrc::kInvalidArgument);
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 2));
  auto twice = pool.AddTaskManager("tm-a", 5);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ServerErrc::kAlreadyExists);
  EXPECT_EQ(pool.total_slots(), 2);
  EXPECT_EQ(pool.Allocate("job", 0).error().code, ServerErrc::kInvalidArgument);
  EXPECT_EQ(pool.Allocate("", 1).error().code, ServerErrc::kInvalidArgument);
  ASSERT_TRUE(pool.Allocate("job", 1));
  auto again = pool.Allocate("job", 1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ServerErrc::kAlreadyExists);
  EXPECT_EQ(pool.free_slots(), 1);
}

TEST(SlotPool, ReportsPerTaskManagerCounts) {
  SlotPool pool;
  ASSERT_TRUE(pool.AddTaskManager("tm-b", 2));
  ASSERT_TRUE(pool.AddTaskManager("tm-a", 3));
  ASSERT_TRUE(pool.Allocate("job", 3));
  auto task_managers = pool.TaskManagers();
  ASSERT_EQ(task_managers.size(), 2u);
  EXPECT_EQ(task_managers[0].task_manager_id, "tm-a");
  EXPECT_EQ(task_managers[0].total, 3);
  EXPECT_EQ(task_managers[0].free, 1);
  EXPECT_EQ(task_managers[1].task_manager_id, "tm-b");
  EXPECT_EQ(task_managers[1].total, 2);
  EXPECT_EQ(task_managers[1].free, 1);
  EXPECT_EQ(pool.task_manager_count(), 2);
  EXPECT_TRUE(pool.HasTaskManager("tm-a"));
  EXPECT_FALSE(pool.HasTaskManager("tm-z"));
}

}  // namespace
}  // namespace brook::server
