#include "brook/runtime/timer_service.h"

#include <gtest/gtest.h>

#include <vector>

namespace brook {
namespace {

TEST(ProcessingTimeService, FiresDueTimersOnceInTimeThenRegistrationOrder) {
  ProcessingTimeService timers;
  std::vector<int> fired;
  timers.RegisterTimer(30, [&](Timestamp) { fired.push_back(3); });
  timers.RegisterTimer(10, [&](Timestamp) { fired.push_back(1); });
  timers.RegisterTimer(20, [&](Timestamp) { fired.push_back(2); });
  timers.RegisterTimer(20, [&](Timestamp) { fired.push_back(22); });
  EXPECT_EQ(timers.NextDeadline(), 10);
  EXPECT_EQ(timers.FireDue(5), 0);
  EXPECT_EQ(timers.FireDue(20), 3);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 22}));
  EXPECT_EQ(timers.FireDue(20), 0);
  EXPECT_EQ(timers.FireDue(100), 1);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 22, 3}));
  EXPECT_FALSE(timers.NextDeadline().has_value());
}

TEST(ProcessingTimeService, TimersRegisteredByACallbackForThePastFireInTheSameCall) {
  ProcessingTimeService timers;
  std::vector<Timestamp> fired;
  timers.RegisterTimer(10, [&](Timestamp t) {
    fired.push_back(t);
    timers.RegisterTimer(11, [&](Timestamp t2) { fired.push_back(t2); });
    timers.RegisterTimer(50, [&](Timestamp t3) { fired.push_back(t3); });
  });
  EXPECT_EQ(timers.FireDue(12), 2);
  EXPECT_EQ(fired, (std::vector<Timestamp>{10, 11}));
  EXPECT_EQ(timers.size(), 1u);
}

}  // namespace
}  // namespace brook
