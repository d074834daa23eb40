// Network channels: the ends of a channel whose producer and consumer run in different
// processes. They implement the same interfaces as LocalChannel, so record writers and input
// gates use them unchanged:
//
//   producer task: RecordWriter -> NetworkChannelSender<T> --TCP--> NetworkChannelReceiver<T>
//                                                                   -> InputGate: consumer task
//
// The sender serializes each RecordBatch<T> with brook::Serde<T>, and each event, into network
// buffers (element_codec.h). A buffer goes out when it is full (the full buffers of one batch
// together, in one system call, when the batch is written), right after an event (so
// watermarks, barriers and end-of-partition never wait behind a batch), when the task flushes
// (ChannelSender::Flush, before it parks), and at the latest after the buffer timeout. Sending
// needs a credit from the consumer; without one, Send() blocks like a full LocalChannel (the
// wait is backpressure) until a credit comes, Cancel() is called (TaskCancelled) or the channel
// fails (std::runtime_error). The receiver decodes buffers back into batches and events, and
// returns a buffer's credit as soon as its last element is taken.
//
// REQUIRES: T is Serializable and default-constructible.
// Threading: as LocalChannel: one producer thread (AcquireBatch, Send, Flush) on the sender, one
// consumer thread (Poll, Recycle) on the receiver; Cancel() and accessors from any thread.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "brook/runtime/local_channel.h"
#include "brook/runtime/network/element_codec.h"
#include "brook/runtime/network/network_channel_core.h"
#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/serde.h"

namespace brook {

template <typename T>
class NetworkChannelSender final : public ChannelBase, public ChannelSender<T> {
 public:
  NetworkChannelSender(NetworkEnvironment& environment, const ChannelId& id,
                       size_t batch_size = kDefaultBatchSize)
      : NetworkChannelSender(environment.OpenOutbound(id), batch_size) {}
  // Over a channel the environment already opened (see TypeInfo::MakeNetworkSender for why).
  explicit NetworkChannelSender(std::unique_ptr<network::OutboundChannel> channel,
                                size_t batch_size = kDefaultBatchSize)
      : channel_(std::move(channel)), batch_size_(batch_size) {}

  RecordBatch<T> AcquireBatch() override {
    if (!free_.empty()) {
      RecordBatch<T> batch = std::move(free_.back());
      free_.pop_back();
      return batch;
    }
    RecordBatch<T> batch;
    batch.records.reserve(batch_size_);
    return batch;
  }

  void Send(ChannelElement<T>&& element, int64_t* backpressure_ns) override {
    if (auto* batch = std::get_if<RecordBatch<T>>(&element)) {
      WriteRecords(*batch, backpressure_ns);
      // Serialized: the storage is free again at once (the writer acquires one per send).
      batch->clear();
      if (free_.size() < 2) free_.push_back(std::move(*batch));
      return;
    }
    const auto& event = std::get<StreamEvent>(element);
    auto lock = channel_->LockBuffer();
    BufferWriter writer(channel_->buffer(lock));
    network::EncodeEvent(writer, event);
    channel_->SendBuffer(lock, backpressure_ns);
    if (std::holds_alternative<EndOfPartition>(event)) channel_->MarkFinished();
    channel_->EndWrite(lock);
  }

  void Flush() override { channel_->Flush(); }
  void Cancel() override { channel_->Cancel(); }
  // Buffers at the consumer not yet credited back, out of its credits.
  size_t queued() const override { return channel_->in_flight(); }
  size_t capacity() const override { return channel_->capacity(); }
  std::shared_ptr<const Counter> network_bytes() const override { return channel_->bytes_sent(); }
  void SetConsumerNotifier(TaskNotifier*) override {}  // the consumer is in another process

 private:
  void WriteRecords(const RecordBatch<T>& batch, int64_t* backpressure_ns) {
    const size_t n = batch.size();
    const size_t limit = channel_->buffer_bytes();
    auto lock = channel_->LockBuffer();
    size_t i = 0;
    while (i < n) {
      // One kRecords element per buffer: a batch longer than the buffer continues in the next.
      std::vector<std::byte>& buffer = channel_->buffer(lock);
      const size_t header = buffer.size();
      buffer.resize(header + network::kRecordsHeaderBytes);
      uint64_t previous = uint64_t(kNoTimestamp);
      uint32_t count = 0;
      if constexpr (detail::IsRawBytes<T>()) {
        // Records of one size: written through a pointer into room made once per buffer (for
        // the record that crosses the limit too), not with vector inserts per field.
        constexpr size_t kMaxRecordBytes = BufferWriter::kMaxVarintBytes + sizeof(T);
        buffer.resize(std::max(buffer.size(), limit) + kMaxRecordBytes);
        std::byte* out = buffer.data() + header + network::kRecordsHeaderBytes;
        std::byte* const full = buffer.data() + limit;
        do {
          const StreamRecord<T>& record = batch.records[i++];
          const uint64_t timestamp = uint64_t(record.timestamp);
          out += BufferWriter::PutVarint(out, BufferWriter::ZigZag(int64_t(timestamp - previous)));
          previous = timestamp;
          std::memcpy(out, &record.value, sizeof(T));
          out += sizeof(T);
          ++count;
        } while (i < n && out < full);
        buffer.resize(size_t(out - buffer.data()));
      } else {
        BufferWriter writer(buffer);
        do {
          const StreamRecord<T>& record = batch.records[i++];
          const uint64_t timestamp = uint64_t(record.timestamp);
          writer.WriteSignedVarint(int64_t(timestamp - previous));  // wraps; decoder wraps back
          previous = timestamp;
          Serde<T>::Write(writer, record.value);
          ++count;
        } while (i < n && buffer.size() < limit);
      }
      buffer[header] = std::byte(network::ElementTag::kRecords);
      std::memcpy(buffer.data() + header + 1, &count, sizeof(count));
      // A full buffer with more of the batch to come waits for the next one (see SendBuffer).
      if (buffer.size() >= limit) channel_->SendBuffer(lock, backpressure_ns, i < n);
    }
    channel_->EndWrite(lock);
  }

  std::unique_ptr<network::OutboundChannel> channel_;
  const size_t batch_size_;
  std::vector<RecordBatch<T>> free_;  // producer thread only
};

template <typename T>
class NetworkChannelReceiver final : public ChannelBase, public ChannelReceiver<T> {
 public:
  NetworkChannelReceiver(NetworkEnvironment& environment, const ChannelId& id,
                         const PeerAddress& producer)
      : NetworkChannelReceiver(environment.OpenInbound(id, producer)) {}
  explicit NetworkChannelReceiver(std::unique_ptr<network::InboundChannel> channel)
      : channel_(std::move(channel)) {}

  // Throws std::runtime_error if the channel failed (connection lost, producer gone, corrupt
  // data), after everything received before the failure was handed out.
  bool Poll(ChannelElement<T>& out) override {
    if (!reader_) {
      if (!channel_->Take(current_)) return false;
      reader_.emplace(current_.payload);
    }
    try {
      Decode(out);
    } catch (const SerdeError& e) {
      throw std::runtime_error("network channel " + channel_->id().ToString() +
                               ": corrupt buffer: " + e.what());
    }
    if (reader_->AtEnd()) {
      reader_.reset();
      channel_->Consumed(std::move(current_));  // the buffer's credit goes back now
    }
    return true;
  }

  void Recycle(RecordBatch<T>&& batch) override {
    batch.clear();
    if (free_.size() < 2) free_.push_back(std::move(batch));
  }

  void Cancel() override { channel_->Cancel(); }
  size_t queued() const override { return channel_->queued(); }
  size_t capacity() const override { return channel_->capacity(); }
  std::shared_ptr<const Counter> network_bytes() const override {
    return channel_->bytes_received();
  }
  // REQUIRES: `notifier` outlives the receiver or is detached first (nullptr); see
  // InboundChannel::SetConsumerNotifier.
  void SetConsumerNotifier(TaskNotifier* notifier) override {
    channel_->SetConsumerNotifier(notifier);
  }

 private:
  void Decode(ChannelElement<T>& out) {
    BufferReader& reader = *reader_;
    const auto tag = reader.Read<uint8_t>();
    if (tag != uint8_t(network::ElementTag::kRecords)) {
      StreamEvent event = network::DecodeEvent(reader, tag);
      if (std::holds_alternative<EndOfPartition>(event)) channel_->MarkEndOfPartition();
      out = std::move(event);
      return;
    }
    const auto count = reader.Read<uint32_t>();
    // Every record takes at least its timestamp byte: a larger count is corrupt.
    if (count == 0 || count > reader.remaining())
      throw SerdeError("invalid record count " + std::to_string(count));
    RecordBatch<T> batch;
    if (!free_.empty()) {
      batch = std::move(free_.back());
      free_.pop_back();
    }
    batch.records.reserve(count);
    uint64_t timestamp = uint64_t(kNoTimestamp);
    for (uint32_t i = 0; i < count; ++i) {
      timestamp += uint64_t(reader.ReadSignedVarint());
      if constexpr (detail::IsRawBytes<T>() && std::is_trivially_copyable_v<T>) {
        // Built in its slot straight from the bytes: no default construction to overwrite.
        batch.records.emplace_back(RawValue{reader}, Timestamp(timestamp));
      } else {
        StreamRecord<T>& record = batch.records.emplace_back();
        record.timestamp = Timestamp(timestamp);
        Serde<T>::Read(reader, record.value);
      }
    }
    out = std::move(batch);
  }

  // Converts to the next T read as raw bytes (a T initialized from it is constructed in place).
  struct RawValue {
    BufferReader& reader;
    operator T() const { return reader.Read<T>(); }
  };

  std::unique_ptr<network::InboundChannel> channel_;
  // Consumer thread only: the buffer being decoded and the batches handed back by Recycle.
  network::ReceivedBuffer current_;
  std::optional<BufferReader> reader_;
  std::vector<RecordBatch<T>> free_;
};

}  // namespace brook
