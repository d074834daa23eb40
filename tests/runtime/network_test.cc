// Network channels end to end over loopback: records of several types and every event kind
// arrive in order, a large transfer completes (and reports its throughput), and record writers
// and input gates work over network channels as over local ones.
#include "brook/runtime/network/network_channel.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "brook/runtime/key_groups.h"
#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/record_writer.h"
#include "brook/runtime/task_input.h"
#include "brook_test/collecting_output.h"

namespace brook {
namespace {

using namespace std::chrono_literals;

NetworkOptions Options() {
  NetworkOptions options;
  options.cluster_token = "network-test-token";
  return options;
}

ChannelId Id(uint32_t edge, int producer = 0, int consumer = 0) {
  return ChannelId{JobId(42), edge, SubtaskIndex(producer), SubtaskIndex(consumer)};
}

struct EnvPair {
  explicit EnvPair(const NetworkOptions& options = Options()) : producer(options), consumer(options) {
    std::string error;
    EXPECT_TRUE(producer.Start(&error)) << error;
    EXPECT_TRUE(consumer.Start(&error)) << error;
  }
  NetworkEnvironment producer;
  NetworkEnvironment consumer;
};

// What a consumer saw, records flattened out of their batches (the network may split batches).
template <typename T>
using Item = std::variant<StreamRecord<T>, StreamEvent>;

// Detaches a test's stack notifier from a receiver that lives on (the environment's threads
// may poke a receiver's notifier at any time).
struct Detach {
  ChannelBase& receiver;
  ~Detach() { receiver.SetConsumerNotifier(nullptr); }
};

// Polls until end-of-partition, parking on a notifier as a task would. Fails after `timeout`.
template <typename T>
std::vector<Item<T>> ReceiveAll(NetworkChannelReceiver<T>& receiver,
                                std::chrono::milliseconds timeout = 20s) {
  TaskNotifier notifier;
  receiver.SetConsumerNotifier(&notifier);
  Detach detach{receiver};
  std::vector<Item<T>> items;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ChannelElement<T> element;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!receiver.Poll(element)) {
      notifier.WaitUntil(deadline);
      continue;
    }
    if (auto* batch = std::get_if<RecordBatch<T>>(&element)) {
      for (auto& r : batch->records) items.emplace_back(r);
      receiver.Recycle(std::move(*batch));
      continue;
    }
    const StreamEvent event = std::get<StreamEvent>(element);
    items.emplace_back(event);
    if (std::holds_alternative<EndOfPartition>(event)) return items;
  }
  ADD_FAILURE() << "no end of partition within " << timeout.count() << " ms";
  return items;
}

template <typename T>
std::vector<Item<T>> Flatten(const std::vector<ChannelElement<T>>& sent) {
  std::vector<Item<T>> items;
  for (const auto& element : sent) {
    if (auto* batch = std::get_if<RecordBatch<T>>(&element)) {
      for (const auto& r : batch->records) items.emplace_back(r);
    } else {
      items.emplace_back(std::get<StreamEvent>(element));
    }
  }
  return items;
}

template <typename T>
bool SameItems(const std::vector<Item<T>>& a, const std::vector<Item<T>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].index() != b[i].index()) return false;
    if (auto* r = std::get_if<StreamRecord<T>>(&a[i])) {
      const auto& s = std::get<StreamRecord<T>>(b[i]);
      if (!(r->value == s.value) || r->timestamp != s.timestamp) return false;
    } else if (std::get<StreamEvent>(a[i]) != std::get<StreamEvent>(b[i])) {
      return false;
    }
  }
  return true;
}

// Sends `elements` on a fresh channel between the pair and returns what the consumer saw.
template <typename T>
void ExpectRoundTrip(std::vector<ChannelElement<T>> elements) {
  EnvPair envs;
  NetworkChannelReceiver<T> receiver(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<T> sender(envs.producer, Id(1));
  const auto expected = Flatten(elements);
  auto producer = std::async(std::launch::async, [&] {
    for (auto& element : elements) sender.Send(std::move(element), nullptr);
  });
  const auto received = ReceiveAll(receiver);
  producer.get();
  EXPECT_TRUE(SameItems(received, expected)) << "received " << received.size() << " items, sent "
                                             << expected.size();
}

template <typename T>
RecordBatch<T> Batch(std::vector<T> values, Timestamp first_ts = kNoTimestamp) {
  RecordBatch<T> batch;
  for (size_t i = 0; i < values.size(); ++i)
    batch.push(std::move(values[i]), first_ts == kNoTimestamp ? kNoTimestamp : first_ts + Timestamp(i));
  return batch;
}

// Every event kind, between batches, with one batch larger than a network buffer.
template <typename T>
std::vector<ChannelElement<T>> EveryKindOfElement(std::function<T(int)> make) {
  std::vector<T> small = {make(1), make(2), make(3)};
  std::vector<T> large;
  for (int i = 0; i < 20000; ++i) large.push_back(make(i));
  std::vector<ChannelElement<T>> elements;
  elements.emplace_back(Batch(small, 1000));
  elements.emplace_back(StreamEvent(Watermark{1002}));
  elements.emplace_back(StreamEvent(WatermarkStatus{true}));
  elements.emplace_back(StreamEvent(WatermarkStatus{false}));
  elements.emplace_back(Batch(large, -5));
  elements.emplace_back(StreamEvent(CheckpointBarrier{CheckpointId(7), 123456, CheckpointKind::kSavepoint, true}));
  elements.emplace_back(Batch(small));  // no timestamps
  elements.emplace_back(StreamEvent(LatencyMarker{987654321, VertexId(3), SubtaskIndex(1)}));
  elements.emplace_back(StreamEvent(CheckpointBarrier{CheckpointId(8), 5, CheckpointKind::kCheckpoint, false}));
  elements.emplace_back(Batch(small, kMaxWatermark - 10));
  elements.emplace_back(StreamEvent(Watermark{kMaxWatermark}));
  elements.emplace_back(StreamEvent(EndOfPartition{}));
  return elements;
}

struct Point {
  int32_t x = 0;
  double y = 0;
  char tag[6] = {};
  bool operator==(const Point& o) const { return x == o.x && y == o.y && std::string(tag) == o.tag; }
};

TEST(NetworkChannel, CarriesIntsAndEveryEventKindInOrder) {
  ExpectRoundTrip(EveryKindOfElement<int>([](int i) { return i * 7 - 3; }));
}

TEST(NetworkChannel, CarriesStringsInOrder) {
  ExpectRoundTrip(EveryKindOfElement<std::string>(
      [](int i) { return std::string(size_t(i % 50), char('a' + i % 26)) + std::to_string(i); }));
}

TEST(NetworkChannel, CarriesTriviallyCopyableStructsInOrder) {
  ExpectRoundTrip(EveryKindOfElement<Point>([](int i) {
    Point p{i, i * 0.5, {}};
    std::snprintf(p.tag, sizeof(p.tag), "p%d", i % 1000);
    return p;
  }));
}

struct Record100 {
  int32_t sequence = 0;
  char payload[96] = {};
};
static_assert(sizeof(Record100) == 100);

TEST(NetworkChannel, TransfersAMillionRecords) {
  constexpr int64_t kRecords = 1'000'000;
  EnvPair envs;
  NetworkChannelReceiver<Record100> receiver(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<Record100> sender(envs.producer, Id(1));
  const auto start = std::chrono::steady_clock::now();
  auto producer = std::async(std::launch::async, [&] {
    int64_t next = 0;
    while (next < kRecords) {
      RecordBatch<Record100> batch = sender.AcquireBatch();
      for (size_t i = 0; i < kDefaultBatchSize && next < kRecords; ++i, ++next) {
        Record100 r;
        r.sequence = int32_t(next);
        r.payload[next % 96] = char(next);
        batch.push(r, next);
      }
      sender.Send(std::move(batch), nullptr);
    }
    sender.Send(StreamEvent(EndOfPartition{}), nullptr);
  });

  TaskNotifier notifier;
  receiver.SetConsumerNotifier(&notifier);
  Detach detach{receiver};
  int64_t expected = 0;
  bool in_order = true;
  ChannelElement<Record100> element;
  const auto deadline = start + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!receiver.Poll(element)) {
      notifier.WaitUntil(deadline);
      continue;
    }
    if (auto* batch = std::get_if<RecordBatch<Record100>>(&element)) {
      for (const auto& r : batch->records) {
        in_order &= r.value.sequence == expected && r.timestamp == expected &&
                    r.value.payload[expected % 96] == char(expected);
        ++expected;
      }
      receiver.Recycle(std::move(*batch));
    } else if (std::holds_alternative<EndOfPartition>(std::get<StreamEvent>(element))) {
      break;
    }
  }
  producer.get();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(expected, kRecords);
  EXPECT_TRUE(in_order);
  std::printf("[ throughput ] %lld records of 100 bytes in %.3f s: %.0f records/s, %.1f MB/s\n",
              static_cast<long long>(kRecords), seconds, double(kRecords) / seconds,
              double(kRecords) * 100 / seconds / 1e6);
}

// Both ends count the bytes of every data frame, once, as it crosses: the producer what it
// sent, the consumer what it received, so the two agree; a local channel counts none.
TEST(NetworkChannel, BothEndsCountTheSameFrameBytes) {
  EnvPair envs;
  NetworkChannelReceiver<int64_t> receiver(envs.consumer, Id(1), envs.producer.address());
  NetworkChannelSender<int64_t> sender(envs.producer, Id(1));
  ASSERT_NE(sender.network_bytes(), nullptr);
  ASSERT_NE(receiver.network_bytes(), nullptr);
  EXPECT_EQ(sender.network_bytes()->value(), 0);
  std::vector<int64_t> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = int64_t(i) * 1'000'003;
  auto producer = std::async(std::launch::async, [&] {
    sender.Send(Batch(values, 1), nullptr);
    sender.Send(StreamEvent(EndOfPartition{}), nullptr);
  });
  const auto received = ReceiveAll(receiver);
  producer.get();
  ASSERT_EQ(received.size(), values.size() + 1);
  const int64_t sent = sender.network_bytes()->value();
  // At least a byte of value and one of timestamp per record (varints), and the frames' own
  // headers; no more than the 8 + 8 fixed bytes per record plus some framing.
  EXPECT_GT(sent, int64_t(values.size()) * 2);
  EXPECT_LT(sent, int64_t(values.size()) * 16 + 4096);
  EXPECT_EQ(receiver.network_bytes()->value(), sent);
  EXPECT_EQ(LocalChannel<int64_t>(4).network_bytes(), nullptr);
}

TEST(NetworkEndToEnd, KeyGroupWritersAndInputGatesDeliverEveryRecordExactlyOnce) {
  constexpr int kParallelism = 2;
  constexpr int kMaxParallelism = 128;
  constexpr int64_t kPerProducer = 200'000;
  // Process p hosts producer p and consumer p; channel p->c runs from env p to env c (0->0 and
  // 1->1 over a connection an environment has to itself).
  NetworkEnvironment env0(Options()), env1(Options());
  ASSERT_TRUE(env0.Start());
  ASSERT_TRUE(env1.Start());
  NetworkEnvironment* envs[kParallelism] = {&env0, &env1};

  std::vector<std::unique_ptr<NetworkChannelReceiver<int64_t>>> receivers[kParallelism];
  std::vector<std::unique_ptr<NetworkChannelSender<int64_t>>> senders[kParallelism];
  for (int c = 0; c < kParallelism; ++c)
    for (int p = 0; p < kParallelism; ++p)
      receivers[c].push_back(std::make_unique<NetworkChannelReceiver<int64_t>>(
          *envs[c], Id(3, p, c), envs[p]->address()));
  for (int p = 0; p < kParallelism; ++p)
    for (int c = 0; c < kParallelism; ++c)
      senders[p].push_back(std::make_unique<NetworkChannelSender<int64_t>>(*envs[p], Id(3, p, c)));

  auto key = [](const int64_t& v) { return v; };
  HashPartitioner<int64_t, decltype(key)> partitioner(key);
  std::vector<std::future<void>> producers;
  for (int p = 0; p < kParallelism; ++p) {
    producers.push_back(std::async(std::launch::async, [&, p] {
      std::vector<ChannelBase*> channels;
      for (auto& s : senders[p]) channels.push_back(s.get());
      WriterOptions options;
      options.subtask_index = p;
      options.max_parallelism = kMaxParallelism;
      auto writer = partitioner.MakeWriter(channels, options);
      auto& output = dynamic_cast<Output<int64_t>&>(writer->AsOutput());
      RecordBatch<int64_t> batch;
      for (int64_t i = 0; i < kPerProducer; ++i) {
        batch.push(p * kPerProducer + i, i);
        if (batch.size() == 500) {
          output.Push(batch);
          batch.clear();
        }
      }
      output.Push(batch);
      output.EmitWatermark(Watermark{kPerProducer});
      output.Flush();
      writer->BroadcastEvent(EndOfPartition{});
    }));
  }

  testing::CollectingOutput<int64_t> heads[kParallelism];
  std::vector<std::future<void>> consumers;
  for (int c = 0; c < kParallelism; ++c) {
    consumers.push_back(std::async(std::launch::async, [&, c] {
      TaskNotifier notifier;
      std::vector<ChannelReceiver<int64_t>*> channels;
      for (auto& r : receivers[c]) {
        r->SetConsumerNotifier(&notifier);
        channels.push_back(r.get());
      }
      struct DetachAll {
        std::vector<std::unique_ptr<NetworkChannelReceiver<int64_t>>>& receivers;
        ~DetachAll() {
          for (auto& r : receivers) r->SetConsumerNotifier(nullptr);
        }
      } detach{receivers[c]};
      InputGate<int64_t> gate(channels, &heads[c], nullptr);
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      for (;;) {
        auto status = gate.ProcessNext();
        if (status == TaskInput::Status::kEndOfInput) return;
        if (status == TaskInput::Status::kNothingAvailable) {
          ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "consumer " << c << " timed out";
          notifier.WaitUntil(deadline);
        }
      }
    }));
  }
  for (auto& f : producers) f.get();
  for (auto& f : consumers) f.get();

  std::map<int64_t, int> seen;
  for (int c = 0; c < kParallelism; ++c) {
    for (int64_t v : heads[c].values) {
      ++seen[v];
      EXPECT_EQ(SubtaskForKeyGroup(KeyGroupFor(v, kMaxParallelism), kMaxParallelism, kParallelism), c)
          << "record " << v << " reached the wrong consumer";
    }
    EXPECT_EQ(heads[c].watermarks, std::vector<Timestamp>{kPerProducer});
  }
  EXPECT_EQ(seen.size(), size_t(kParallelism * kPerProducer));
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](const auto& e) { return e.second == 1; }));
}

}  // namespace
}  // namespace brook
