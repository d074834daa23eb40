// Record writers: the outputs of a task that lead to other subtasks. A writer partitions
// records over its channels (forward, rebalance, broadcast or hash by key group), fills one
// batch per channel, and sends a batch when it is full or when the task flushes.
// Watermarks and other events go to every channel, after the buffered records.
//
// Threading: the producing task thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/key_groups.h"
#include "brook/runtime/local_channel.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/output.h"

namespace brook {

// Type-erased face of a writer for the task: flushing and sending events in-band.
class RecordWriterBase {
 public:
  virtual ~RecordWriterBase() = default;
  virtual OutputBase& AsOutput() = 0;
  // Sends buffered records, then `event`, to every channel.
  virtual void BroadcastEvent(const StreamEvent& event) = 0;
};

struct WriterOptions {
  int subtask_index = 0;  // of the producer, to stagger round-robin starts
  int max_parallelism = 128;
  size_t batch_size = kDefaultBatchSize;
  TaskIoMetrics* metrics = nullptr;
};

template <typename T>
class RecordWriter : public Output<T>, public RecordWriterBase {
 public:
  RecordWriter(std::vector<ChannelSender<T>*> channels, const WriterOptions& options)
      : channels_(std::move(channels)), options_(options) {
    BROOK_CHECK(!channels_.empty(), "a record writer needs at least one channel");
    for (auto* c : channels_) buffers_.push_back(c->AcquireBatch());
  }

  OutputBase& AsOutput() override { return *this; }

  void Flush() override {
    SendBufferedBatches();
    for (auto* c : channels_) c->Flush();
  }

  void BroadcastEvent(const StreamEvent& event) override {
    // Not Flush(): the event itself ends a network buffer, so records and event go out together.
    SendBufferedBatches();
    for (size_t c = 0; c < channels_.size(); ++c) SendElement(c, ChannelElement<T>(event));
  }

  void EmitWatermark(Watermark wm) override { BroadcastEvent(wm); }
  void EmitWatermarkStatus(WatermarkStatus status) override { BroadcastEvent(status); }

  void EmitLatencyMarker(const LatencyMarker& marker) override {
    // One channel is enough to measure; rotate so every path is measured over time.
    size_t c = latency_channel_++ % channels_.size();
    if (!buffers_[c].empty()) SendBuffer(c);
    SendElement(c, ChannelElement<T>(StreamEvent(marker)));
  }

 protected:
  size_t num_channels() const { return channels_.size(); }
  const WriterOptions& options() const { return options_; }

  void Append(size_t channel, StreamRecord<T>&& record) {
    auto& buffer = buffers_[channel];
    buffer.records.push_back(std::move(record));
    if (buffer.size() >= options_.batch_size) [[unlikely]]
      SendBuffer(channel);
  }

  void SendBufferedBatches() {
    for (size_t c = 0; c < channels_.size(); ++c)
      if (!buffers_[c].empty()) SendBuffer(c);
  }

  void SendBuffer(size_t channel) {
    auto& buffer = buffers_[channel];
    if (options_.metrics) options_.metrics->records_out->Inc(int64_t(buffer.size()));
    SendElement(channel, ChannelElement<T>(std::move(buffer)));
    buffer = channels_[channel]->AcquireBatch();
  }

  // Hands a whole batch to a channel without copying records, when nothing is buffered there.
  bool TrySendWhole(size_t channel, RecordBatch<T>& batch) {
    if (!buffers_[channel].empty() || batch.size() < options_.batch_size / 2) return false;
    if (options_.metrics) options_.metrics->records_out->Inc(int64_t(batch.size()));
    RecordBatch<T> fresh = channels_[channel]->AcquireBatch();
    std::swap(fresh, batch);
    SendElement(channel, ChannelElement<T>(std::move(fresh)));
    return true;
  }

 private:
  // Sends one element, blocking while the channel is full; the wait counts as backpressure.
  void SendElement(size_t channel, ChannelElement<T>&& element) {
    int64_t blocked_ns = 0;
    channels_[channel]->Send(std::move(element), &blocked_ns);
    if (blocked_ns != 0 && options_.metrics) options_.metrics->backpressure_ns->Inc(blocked_ns);
  }

  std::vector<ChannelSender<T>*> channels_;
  std::vector<RecordBatch<T>> buffers_;
  WriterOptions options_;
  size_t latency_channel_ = 0;
};

// Subtask i sends to subtask i of the consumer: one channel.
template <typename T>
class ForwardWriter final : public RecordWriter<T> {
 public:
  using RecordWriter<T>::RecordWriter;
  void Push(RecordBatch<T>& batch) override {
    if (this->TrySendWhole(0, batch)) return;
    for (auto& r : batch.records) this->Append(0, std::move(r));
  }
};

// Round-robin, record by record, starting at a subtask-dependent channel.
template <typename T>
class RebalanceWriter final : public RecordWriter<T> {
 public:
  RebalanceWriter(std::vector<ChannelSender<T>*> channels, const WriterOptions& options)
      : RecordWriter<T>(std::move(channels), options),
        next_(size_t(options.subtask_index) % this->num_channels()) {}
  void Push(RecordBatch<T>& batch) override {
    const size_t n = this->num_channels();
    for (auto& r : batch.records) {
      this->Append(next_, std::move(r));
      if (++next_ == n) next_ = 0;
    }
  }

 private:
  size_t next_;
};

// Every record to every channel.
template <typename T>
class BroadcastWriter final : public RecordWriter<T> {
 public:
  using RecordWriter<T>::RecordWriter;
  void Push(RecordBatch<T>& batch) override {
    const size_t n = this->num_channels();
    for (auto& r : batch.records) {
      for (size_t c = 0; c + 1 < n; ++c) this->Append(c, StreamRecord<T>(r));
      this->Append(n - 1, std::move(r));
    }
  }
};

// Each record to the subtask owning the key group of its key.
template <typename T, typename KeySelector>
class KeyGroupWriter final : public RecordWriter<T> {
 public:
  KeyGroupWriter(std::vector<ChannelSender<T>*> channels, const WriterOptions& options,
                 KeySelector key_selector)
      : RecordWriter<T>(std::move(channels), options), key_selector_(std::move(key_selector)) {
    // Which channel owns each key group, computed once: the per-record cost is one modulo.
    const int max_p = options.max_parallelism;
    channel_of_group_.resize(size_t(max_p));
    for (int g = 0; g < max_p; ++g)
      channel_of_group_[size_t(g)] =
          uint32_t(SubtaskForKeyGroup(KeyGroup(g), max_p, int(this->num_channels())));
  }
  void Push(RecordBatch<T>& batch) override {
    const uint64_t max_p = channel_of_group_.size();
    using K = std::decay_t<std::invoke_result_t<KeySelector&, const T&>>;
    for (auto& r : batch.records) {
      uint64_t group = KeyHasher<K>{}(key_selector_(r.value)) % max_p;
      this->Append(channel_of_group_[group], std::move(r));
    }
  }

 private:
  KeySelector key_selector_;
  std::vector<uint32_t> channel_of_group_;
};

// How an edge of the job graph distributes records; makes the writer for one producer subtask.
class PartitionerFactory {
 public:
  enum class Kind { kForward, kRebalance, kBroadcast, kHash };
  virtual ~PartitionerFactory() = default;
  virtual Kind kind() const = 0;
  // Channels are the producer's, one per consumer subtask, in consumer subtask order.
  virtual std::unique_ptr<RecordWriterBase> MakeWriter(const std::vector<ChannelBase*>& channels,
                                                       const WriterOptions& options) const = 0;
  std::string name() const {
    switch (kind()) {
      case Kind::kForward: return "FORWARD";
      case Kind::kRebalance: return "REBALANCE";
      case Kind::kBroadcast: return "BROADCAST";
      case Kind::kHash: return "HASH";
    }
    return "?";
  }
};

template <typename T>
std::vector<ChannelSender<T>*> AsSenders(const std::vector<ChannelBase*>& channels) {
  std::vector<ChannelSender<T>*> senders;
  for (auto* c : channels) {
    auto* s = dynamic_cast<ChannelSender<T>*>(c);
    BROOK_CHECK(s != nullptr, "channel carries another record type than the writer");
    senders.push_back(s);
  }
  return senders;
}

template <typename T, template <typename> class Writer, PartitionerFactory::Kind K>
class SimplePartitionerFactory final : public PartitionerFactory {
 public:
  Kind kind() const override { return K; }
  std::unique_ptr<RecordWriterBase> MakeWriter(const std::vector<ChannelBase*>& channels,
                                               const WriterOptions& options) const override {
    return std::make_unique<Writer<T>>(AsSenders<T>(channels), options);
  }
};

template <typename T>
using ForwardPartitioner =
    SimplePartitionerFactory<T, ForwardWriter, PartitionerFactory::Kind::kForward>;
template <typename T>
using RebalancePartitioner =
    SimplePartitionerFactory<T, RebalanceWriter, PartitionerFactory::Kind::kRebalance>;
template <typename T>
using BroadcastPartitioner =
    SimplePartitionerFactory<T, BroadcastWriter, PartitionerFactory::Kind::kBroadcast>;

template <typename T, typename KeySelector>
class HashPartitioner final : public PartitionerFactory {
 public:
  explicit HashPartitioner(KeySelector key_selector) : key_selector_(std::move(key_selector)) {}
  Kind kind() const override { return Kind::kHash; }
  std::unique_ptr<RecordWriterBase> MakeWriter(const std::vector<ChannelBase*>& channels,
                                               const WriterOptions& options) const override {
    return std::make_unique<KeyGroupWriter<T, KeySelector>>(AsSenders<T>(channels), options,
                                                            key_selector_);
  }

 private:
  KeySelector key_selector_;
};

}  // namespace brook
