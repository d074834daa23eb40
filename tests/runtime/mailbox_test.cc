#include "brook/runtime/mailbox.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace brook {
namespace {

TEST(TaskMailbox, RunsMailInOrderOnTheCallingThread) {
  TaskNotifier notifier;
  TaskMailbox mailbox(notifier);
  std::vector<int> ran;
  EXPECT_FALSE(mailbox.HasMail());
  std::thread other([&] {
    mailbox.Put([&] { ran.push_back(1); });
    mailbox.Put([&] { ran.push_back(2); });
  });
  other.join();
  notifier.Wait();  // the puts notified
  EXPECT_TRUE(mailbox.HasMail());
  mailbox.RunAll();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_FALSE(mailbox.HasMail());
}

TEST(TaskMailbox, RefusesMailAfterClose) {
  TaskNotifier notifier;
  TaskMailbox mailbox(notifier);
  bool ran = false;
  EXPECT_TRUE(mailbox.Put([&] { ran = true; }));
  mailbox.Close();
  EXPECT_FALSE(mailbox.Put([&] { ran = true; }));
  mailbox.RunAll();
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace brook
