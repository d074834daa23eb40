#include "brook/runtime/record_writer.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

namespace brook {
namespace {

// Channels to `n` consumers and a way to drain what each received.
struct Consumers {
  explicit Consumers(int n) {
    for (int i = 0; i < n; ++i) {
      channels.push_back(std::make_unique<LocalChannel<uint64_t>>(1024, 8));
      bases.push_back(channels.back().get());
    }
  }
  std::vector<uint64_t> Drain(int i) {
    std::vector<uint64_t> out;
    ChannelElement<uint64_t> e;
    while (channels[size_t(i)]->Poll(e))
      if (auto* b = std::get_if<RecordBatch<uint64_t>>(&e))
        for (auto& r : b->records) out.push_back(r.value);
    return out;
  }
  std::vector<std::unique_ptr<LocalChannel<uint64_t>>> channels;
  std::vector<ChannelBase*> bases;
};

void PushAll(OutputBase& out, uint64_t n) {
  auto& typed = dynamic_cast<Output<uint64_t>&>(out);
  RecordBatch<uint64_t> batch;
  for (uint64_t v = 0; v < n; ++v) {
    batch.push(v, 0);
    if (batch.size() == 100) {
      typed.Push(batch);
      batch.clear();
    }
  }
  typed.Push(batch);
  out.Flush();
}

TEST(RecordWriter, HashRoutesEveryKeyToTheSubtaskOwningItsKeyGroup) {
  const int p = 3, max_p = 128;
  Consumers consumers(p);
  auto key = [](const uint64_t& v) { return v % 1000; };
  HashPartitioner<uint64_t, decltype(key)> partitioner(key);
  WriterOptions options;
  options.max_parallelism = max_p;
  options.batch_size = 8;
  auto writer = partitioner.MakeWriter(consumers.bases, options);
  PushAll(writer->AsOutput(), 5000);
  size_t total = 0;
  for (int i = 0; i < p; ++i) {
    auto range = KeyGroupRange::ForSubtask(i, max_p, p);
    for (uint64_t v : consumers.Drain(i)) {
      EXPECT_TRUE(range.Contains(KeyGroupFor(key(v), max_p))) << "value " << v << " at " << i;
      ++total;
    }
  }
  EXPECT_EQ(total, 5000u);
}

TEST(RecordWriter, RebalanceSpreadsRecordsEvenly) {
  Consumers consumers(4);
  RebalancePartitioner<uint64_t> partitioner;
  auto writer = partitioner.MakeWriter(consumers.bases, WriterOptions{});
  PushAll(writer->AsOutput(), 1000);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(consumers.Drain(i).size(), 250u);
}

TEST(RecordWriter, BroadcastSendsEveryRecordToEveryChannel) {
  Consumers consumers(3);
  BroadcastPartitioner<uint64_t> partitioner;
  auto writer = partitioner.MakeWriter(consumers.bases, WriterOptions{});
  PushAll(writer->AsOutput(), 100);
  for (int i = 0; i < 3; ++i) {
    auto got = consumers.Drain(i);
    EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()).size(), 100u);
  }
}

TEST(RecordWriter, ForwardKeepsOrderAndEventsFollowTheirRecords) {
  Consumers consumers(1);
  ForwardPartitioner<uint64_t> partitioner;
  WriterOptions options;
  options.batch_size = 8;
  auto writer = partitioner.MakeWriter(consumers.bases, options);
  auto& out = dynamic_cast<Output<uint64_t>&>(writer->AsOutput());
  RecordBatch<uint64_t> batch;
  batch.push(1, 0);
  batch.push(2, 0);
  out.Push(batch);
  out.EmitWatermark(Watermark{9});
  ChannelElement<uint64_t> e;
  ASSERT_TRUE(consumers.channels[0]->Poll(e));
  ASSERT_EQ(std::get<RecordBatch<uint64_t>>(e).size(), 2u);  // flushed before the watermark
  ASSERT_TRUE(consumers.channels[0]->Poll(e));
  EXPECT_EQ(std::get<Watermark>(std::get<StreamEvent>(e)).timestamp, 9);
}

}  // namespace
}  // namespace brook
