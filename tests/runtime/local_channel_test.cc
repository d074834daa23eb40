#include "brook/runtime/local_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace brook {
namespace {

RecordBatch<int> BatchOf(std::initializer_list<int> values) {
  RecordBatch<int> batch;
  for (int v : values) batch.push(v, v * 10);
  return batch;
}

TEST(LocalChannel, DeliversBatchesAndEventsInOrder) {
  LocalChannel<int> channel(8);
  channel.Send(BatchOf({1, 2}), nullptr);
  channel.Send(StreamEvent(Watermark{5}), nullptr);
  channel.Send(BatchOf({3}), nullptr);
  channel.Send(StreamEvent(EndOfPartition{}), nullptr);

  ChannelElement<int> e;
  ASSERT_TRUE(channel.Poll(e));
  auto& b1 = std::get<RecordBatch<int>>(e);
  ASSERT_EQ(b1.size(), 2u);
  EXPECT_EQ(b1.records[1].value, 2);
  EXPECT_EQ(b1.records[1].timestamp, 20);
  ASSERT_TRUE(channel.Poll(e));
  EXPECT_EQ(std::get<Watermark>(std::get<StreamEvent>(e)).timestamp, 5);
  ASSERT_TRUE(channel.Poll(e));
  EXPECT_EQ(std::get<RecordBatch<int>>(e).records[0].value, 3);
  ASSERT_TRUE(channel.Poll(e));
  EXPECT_TRUE(std::holds_alternative<EndOfPartition>(std::get<StreamEvent>(e)));
  EXPECT_FALSE(channel.Poll(e));
}

TEST(LocalChannel, BlocksTheProducerWhileFullAndCountsBackpressure) {
  LocalChannel<int> channel(2);
  channel.Send(BatchOf({1}), nullptr);
  channel.Send(BatchOf({2}), nullptr);
  std::atomic<bool> sent{false};
  int64_t blocked_ns = 0;
  std::thread producer([&] {
    channel.Send(BatchOf({3}), &blocked_ns);
    sent = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(sent.load());
  EXPECT_EQ(channel.queued(), 2u);
  ChannelElement<int> e;
  ASSERT_TRUE(channel.Poll(e));
  producer.join();
  EXPECT_TRUE(sent.load());
  EXPECT_GE(blocked_ns, 40'000'000);
  EXPECT_EQ(channel.queued(), 2u);
}

TEST(LocalChannel, CancelWakesABlockedProducerWithTaskCancelled) {
  LocalChannel<int> channel(1);
  channel.Send(BatchOf({1}), nullptr);
  std::atomic<bool> cancelled{false};
  std::thread producer([&] {
    try {
      channel.Send(BatchOf({2}), nullptr);
    } catch (const TaskCancelled&) {
      cancelled = true;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  channel.Cancel();
  producer.join();
  EXPECT_TRUE(cancelled.load());
  EXPECT_THROW(channel.Send(BatchOf({3}), nullptr), TaskCancelled);
}

TEST(LocalChannel, NotifiesTheConsumerWhenDataArrivesInAnEmptyChannel) {
  LocalChannel<int> channel(4);
  TaskNotifier notifier;
  channel.SetConsumerNotifier(&notifier);
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    channel.Send(BatchOf({1}), nullptr);
  });
  notifier.Wait();  // returns only because the send notified
  ChannelElement<int> e;
  EXPECT_TRUE(channel.Poll(e));
  producer.join();
}

TEST(LocalChannel, ReusesRecycledBatchStorage) {
  LocalChannel<int> channel(4, 16);
  RecordBatch<int> batch = channel.AcquireBatch();
  EXPECT_GE(batch.records.capacity(), 16u);
  batch.push(1, 0);
  const auto* storage = batch.records.data();
  channel.Send(std::move(batch), nullptr);
  ChannelElement<int> e;
  ASSERT_TRUE(channel.Poll(e));
  channel.Recycle(std::move(std::get<RecordBatch<int>>(e)));
  RecordBatch<int> again = channel.AcquireBatch();
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.records.data(), storage);
}

}  // namespace
}  // namespace brook
