// Credit-based flow control and buffer flushing of network channels over loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "brook/runtime/network/network_channel.h"
#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/record_writer.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

constexpr size_t kBufferBytes = 1024;
constexpr uint32_t kCredits = 4;

NetworkOptions SmallBuffers() {
  NetworkOptions options;
  options.cluster_token = "flow-test-token";
  options.buffer_bytes = kBufferBytes;
  options.initial_credits = kCredits;
  return options;
}

ChannelId Id(uint32_t edge) { return ChannelId{JobId(9), edge, SubtaskIndex(0), SubtaskIndex(0)}; }

struct EnvPair {
  explicit EnvPair(const NetworkOptions& options) : producer(options), consumer(options) {
    EXPECT_TRUE(producer.Start());
    EXPECT_TRUE(consumer.Start());
  }
  NetworkEnvironment producer;
  NetworkEnvironment consumer;
};

// Sends `total` ints in batches of 50 (one record: a timestamp byte and 4 value bytes), then
// end-of-partition; counts the records whose Send() returned.
struct Producer {
  Producer(NetworkChannelSender<int>& sender, int total) : sender_(&sender) {
    done = std::async(std::launch::async, [this, &sender, total] {
      try {
        for (int i = 0; i < total;) {
          RecordBatch<int> batch = sender.AcquireBatch();
          for (int k = 0; k < 50 && i < total; ++k) batch.push(i++, kNoTimestamp);
          const auto n = int64_t(batch.size());
          sender.Send(std::move(batch), &backpressure_ns);
          sent += n;
        }
        sender.Send(StreamEvent(EndOfPartition{}), &backpressure_ns);
      } catch (const TaskCancelled&) {
        cancelled = true;
      }
    });
  }
  // A failed test must not hang on a blocked producer.
  ~Producer() { sender_->Cancel(); }

  // Waits until the producer made no progress for 200 ms; false if it finished instead.
  bool WaitUntilBlocked() {
    int64_t last = -1;
    for (int i = 0; i < 100; ++i) {
      if (done.wait_for(200ms) == std::future_status::ready) return false;
      if (sent.load() == last) return true;
      last = sent.load();
    }
    return false;
  }
  std::atomic<int64_t> sent{0};
  std::atomic<bool> cancelled{false};
  int64_t backpressure_ns = 0;
  NetworkChannelSender<int>* sender_;
  std::future<void> done;
};

// Detaches a stack notifier from a receiver that outlives it: the environment's threads may
// poke a receiver's notifier at any time.
struct Detach {
  ChannelBase& receiver;
  ~Detach() { receiver.SetConsumerNotifier(nullptr); }
};

// Drains a receiver until end-of-partition; returns the number of records.
int64_t Drain(NetworkChannelReceiver<int>& receiver, std::chrono::milliseconds timeout = 20s) {
  TaskNotifier notifier;
  receiver.SetConsumerNotifier(&notifier);
  Detach detach{receiver};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int64_t records = 0;
  ChannelElement<int> element;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!receiver.Poll(element)) {
      notifier.WaitUntil(deadline);
      continue;
    }
    if (auto* batch = std::get_if<RecordBatch<int>>(&element)) {
      records += int64_t(batch->size());
      receiver.Recycle(std::move(*batch));
    } else if (std::holds_alternative<EndOfPartition>(std::get<StreamEvent>(element))) {
      return records;
    }
  }
  ADD_FAILURE() << "no end of partition";
  return records;
}

TEST(NetworkFlowControl, SlowConsumerBlocksItsProducerButNotOtherChannelsOnTheConnection) {
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> slow_in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelReceiver<int> fast_in(envs.consumer, Id(2), envs.producer.address());
  NetworkChannelSender<int> slow_out(envs.producer, Id(1));
  NetworkChannelSender<int> fast_out(envs.producer, Id(2));

  constexpr int kTotal = 20'000;  // about 100 KB, far beyond the slow consumer's credits
  Producer slow(slow_out, kTotal);
  ASSERT_TRUE(slow.WaitUntilBlocked()) << "the producer should block without credits";
  // It filled its consumer's credits and then one more buffer, and waits for a credit for that.
  const int64_t bytes_sent = slow.sent.load() * 5;
  EXPECT_GE(bytes_sent, int64_t(kCredits * kBufferBytes) - 300);
  EXPECT_LE(bytes_sent, int64_t((kCredits + 1) * kBufferBytes));
  EXPECT_EQ(slow_in.queued(), kCredits);
  EXPECT_EQ(slow_out.queued(), kCredits);

  // Meanwhile another channel on the same connection moves everything.
  Producer fast(fast_out, kTotal);
  EXPECT_EQ(Drain(fast_in), kTotal);
  fast.done.get();
  EXPECT_EQ(envs.consumer.connection_count(), 1u);
  EXPECT_EQ(envs.producer.connection_count(), 1u);
  EXPECT_TRUE(slow.WaitUntilBlocked()) << "still blocked";

  // Once its consumer reads, the slow producer finishes; its wait counted as backpressure.
  EXPECT_EQ(Drain(slow_in), kTotal);
  slow.done.get();
  EXPECT_GT(slow.backpressure_ns, 0);
}

// Polls until the receiver's queue holds `queued` buffers (the buffer taken before that is then
// fully consumed and its credit counted); adds the records polled to *records. False if that
// does not happen within 5 s.
bool PollUntilQueued(NetworkChannelReceiver<int>& receiver, size_t queued, int64_t* records) {
  ChannelElement<int> element;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (receiver.queued() <= queued) return true;  // later arrivals are the caller's business
    if (!receiver.Poll(element)) std::this_thread::sleep_for(1ms);
    if (auto* batch = std::get_if<RecordBatch<int>>(&element)) {
      *records += int64_t(batch->size());
      receiver.Recycle(std::move(*batch));
    }
  }
  return false;
}

TEST(NetworkFlowControl, CreditsGoBackInGroupsOfHalfTheChannelsCredits) {
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  Producer producer(out, 50'000);
  ASSERT_TRUE(producer.WaitUntilBlocked());
  ASSERT_EQ(in.queued(), kCredits);
  int64_t polled = 0;

  // One buffer drained: its credit waits for a second one, the producer stays blocked.
  ASSERT_TRUE(PollUntilQueued(in, kCredits - 2, &polled));
  const int64_t blocked_at = producer.sent.load();
  ASSERT_TRUE(producer.WaitUntilBlocked());
  EXPECT_EQ(producer.sent.load(), blocked_at);
  EXPECT_EQ(in.queued(), kCredits - 2);

  // The second drained buffer sends both credits back: the producer moves on. (How many buffers
  // are queued then is a race: they may arrive while the loop below still polls.)
  ASSERT_TRUE(PollUntilQueued(in, kCredits - 3, &polled));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (producer.sent.load() == blocked_at && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_GT(producer.sent.load(), blocked_at);
  // Nothing is lost or stalls on the way to the end.
  EXPECT_EQ(polled + Drain(in), 50'000);
  producer.done.get();
}

TEST(NetworkFlowControl, ABatchSpanningMoreBuffersThanCreditsFlowsThrough) {
  // A batch of 2000 ints fills about ten 1 KiB buffers against 4 credits. Full buffers of one
  // batch are held back to go out together; the ones held when the credits run out must go out
  // before the producer waits, or the consumer never sees them and never returns a credit.
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  constexpr int kBatches = 10;
  constexpr int kBatchRecords = 2000;
  auto producer = std::async(std::launch::async, [&out] {
    int64_t backpressure_ns = 0;
    for (int b = 0; b < kBatches; ++b) {
      RecordBatch<int> batch = out.AcquireBatch();
      for (int k = 0; k < kBatchRecords; ++k) batch.push(b * kBatchRecords + k, kNoTimestamp);
      out.Send(std::move(batch), &backpressure_ns);
    }
    out.Send(StreamEvent(EndOfPartition{}), &backpressure_ns);
  });
  // Records arrive in order, each once.
  TaskNotifier notifier;
  in.SetConsumerNotifier(&notifier);
  Detach detach{in};
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  int next = 0;
  bool ended = false;
  ChannelElement<int> element;
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    if (!in.Poll(element)) {
      notifier.WaitUntil(deadline);
      continue;
    }
    if (auto* batch = std::get_if<RecordBatch<int>>(&element)) {
      for (const auto& record : batch->records) ASSERT_EQ(record.value, next++);
      in.Recycle(std::move(*batch));
    } else {
      ended = std::holds_alternative<EndOfPartition>(std::get<StreamEvent>(element));
    }
  }
  EXPECT_TRUE(ended) << "stalled after " << next << " records";
  EXPECT_EQ(next, kBatches * kBatchRecords);
  if (!ended) out.Cancel();
  producer.wait();
}

TEST(NetworkFlowControl, CancelUnblocksASenderWaitingForCredit) {
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  Producer producer(out, 1'000'000);
  ASSERT_TRUE(producer.WaitUntilBlocked());
  out.Cancel();
  ASSERT_EQ(producer.done.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(producer.cancelled.load());
}

TEST(NetworkFlowControl, ASenderWaitsForAConsumerDeployedLater) {
  EnvPair envs(SmallBuffers());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  Producer producer(out, 5'000);
  ASSERT_TRUE(producer.WaitUntilBlocked()) << "no credit before the consumer asks";
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  EXPECT_EQ(Drain(in), 5'000);
  producer.done.get();
}

// Sends a few records without flushing; returns how long until the consumer had them.
std::chrono::milliseconds TimeToDeliverSmallBatch(bool flush, std::chrono::milliseconds timeout) {
  NetworkOptions options = SmallBuffers();
  options.buffer_bytes = 32 * 1024;
  options.buffer_timeout = timeout;
  EnvPair envs(options);
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  TaskNotifier notifier;
  in.SetConsumerNotifier(&notifier);
  Detach detach{in};
  RecordBatch<int> batch;
  batch.push(1, 1);
  batch.push(2, 2);
  const auto start = std::chrono::steady_clock::now();
  out.Send(std::move(batch), nullptr);
  if (flush) out.Flush();
  ChannelElement<int> element;
  const auto deadline = start + 10s;
  while (!in.Poll(element) && std::chrono::steady_clock::now() < deadline)
    notifier.WaitUntil(deadline);
  EXPECT_TRUE(std::holds_alternative<RecordBatch<int>>(element));
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST(NetworkFlowControl, BufferTimeoutSendsAPartlyFilledBuffer) {
  const auto elapsed = TimeToDeliverSmallBatch(false, 50ms);
  EXPECT_GE(elapsed, 40ms);
  EXPECT_LT(elapsed, 2000ms);
}

TEST(NetworkFlowControl, FlushSendsAPartlyFilledBufferAtOnce) {
  EXPECT_LT(TimeToDeliverSmallBatch(true, 60s), 2000ms);
}

TEST(NetworkFlowControl, TaskFlushThroughTheRecordWriterSendsTheNetworkBuffer) {
  NetworkOptions options = SmallBuffers();
  options.buffer_bytes = 32 * 1024;
  options.buffer_timeout = 60s;
  EnvPair envs(options);
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  ForwardWriter<int> writer({&out}, WriterOptions{});
  RecordBatch<int> batch;
  batch.push(7, 7);
  writer.Push(batch);
  writer.Flush();  // what StreamTask does before it parks and at its buffer timeout
  TaskNotifier notifier;
  in.SetConsumerNotifier(&notifier);
  Detach detach{in};
  ChannelElement<int> element;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!in.Poll(element) && std::chrono::steady_clock::now() < deadline)
    notifier.WaitUntil(deadline);
  auto* received = std::get_if<RecordBatch<int>>(&element);
  ASSERT_NE(received, nullptr);
  EXPECT_EQ(received->records.at(0).value, 7);
}

TEST(NetworkEnvironment, ReusesTheConnectionAPeerOpened) {
  EnvPair envs(SmallBuffers());
  // consumer -> producer: the consumer environment connects.
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  Producer forward(out, 1000);
  EXPECT_EQ(Drain(in), 1000);
  // The other way round reuses that connection instead of opening one.
  NetworkChannelReceiver<int> back_in(envs.producer, Id(2), envs.consumer.address());
  NetworkChannelSender<int> back_out(envs.consumer, Id(2));
  Producer backward(back_out, 1000);
  EXPECT_EQ(Drain(back_in), 1000);
  EXPECT_EQ(envs.producer.connection_count(), 1u);
  EXPECT_EQ(envs.consumer.connection_count(), 1u);
}

TEST(NetworkEnvironment, ConsumerFailsWhenTheProducerGoesAway) {
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  {
    NetworkChannelSender<int> out(envs.producer, Id(1));
    const auto bound_by = std::chrono::steady_clock::now() + 10s;
    while (out.capacity() == 0 && std::chrono::steady_clock::now() < bound_by)
      std::this_thread::sleep_for(5ms);  // until the consumer's request arrived
    RecordBatch<int> batch;
    batch.push(5, 5);
    out.Send(std::move(batch), nullptr);
    out.Flush();
  }  // destroyed before end-of-partition
  TaskNotifier notifier;
  in.SetConsumerNotifier(&notifier);
  Detach detach{in};
  ChannelElement<int> element;
  bool got_record = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  try {
    while (std::chrono::steady_clock::now() < deadline) {
      if (in.Poll(element)) got_record = true;
      else notifier.WaitUntil(deadline);
    }
    ADD_FAILURE() << "Poll should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("producer closed"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(got_record) << "data received before the failure is handed out first";
}

TEST(NetworkEnvironment, StopFailsOpenChannelsAndIsIdempotent) {
  EnvPair envs(SmallBuffers());
  NetworkChannelReceiver<int> in(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int> out(envs.producer, Id(1));
  Producer producer(out, 1'000'000);
  ASSERT_TRUE(producer.WaitUntilBlocked());
  envs.producer.Stop();
  envs.producer.Stop();
  ASSERT_EQ(producer.done.wait_for(5s), std::future_status::ready);
  EXPECT_THROW(producer.done.get(), std::runtime_error);
}

}  // namespace
}  // namespace brook
