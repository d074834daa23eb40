#include "brook/runtime/network/wire_internal.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "brook/runtime/check.h"
#include "runtime/src/network/network.capnp.h"

namespace brook::network {
namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);

void SetChannel(wire::ChannelId::Builder out, const ChannelId& id) {
  out.setJobId(id.job.value());
  out.setEdge(id.edge);
  out.setProducerSubtask(id.producer.value());
  out.setConsumerSubtask(id.consumer.value());
}

ChannelId GetChannel(wire::ChannelId::Reader in) {
  return ChannelId{JobId(in.getJobId()), in.getEdge(), SubtaskIndex(in.getProducerSubtask()),
                   SubtaskIndex(in.getConsumerSubtask())};
}

std::string ToString(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

void AppendU32(std::vector<std::byte>& out, uint32_t value) {
  std::byte bytes[4];
  std::memcpy(bytes, &value, 4);  // little-endian host (asserted in serde.h)
  out.insert(out.end(), bytes, bytes + 4);
}

// Writes the length prefix and the stream framing of `message` (segment count minus one, the
// segment sizes in words, padding to a word) into `frame.head`, followed by every segment except
// one that is `external` (the DataBuffer payload, already in frame.payload), which must be last.
void Frame(capnp::MessageBuilder& message, const std::byte* external, OutgoingFrame& frame) {
  auto segments = message.getSegmentsForOutput();
  const size_t count = segments.size();
  const size_t table_bytes = (4 + 4 * count + kWordBytes - 1) / kWordBytes * kWordBytes;
  size_t body_bytes = table_bytes;
  for (auto segment : segments) body_bytes += segment.size() * kWordBytes;
  BROOK_CHECK(body_bytes <= UINT32_MAX, "frame too large to encode");

  auto& head = frame.head;
  head.reserve(kFrameLengthBytes + body_bytes - frame.payload.size());
  AppendU32(head, uint32_t(body_bytes));
  AppendU32(head, uint32_t(count - 1));
  for (auto segment : segments) AppendU32(head, uint32_t(segment.size()));
  head.resize(kFrameLengthBytes + table_bytes);  // zero padding after the table
  for (size_t i = 0; i < count; ++i) {
    const auto* begin = reinterpret_cast<const std::byte*>(segments[i].begin());
    if (external != nullptr && begin == external) {
      BROOK_CHECK(i + 1 == count, "external payload segment must come last");
      BROOK_CHECK(segments[i].size() * kWordBytes == frame.payload.size(),
                  "payload must be padded to whole words");
      continue;
    }
    head.insert(head.end(), begin, begin + segments[i].size() * kWordBytes);
  }
}

template <typename Fill>
OutgoingFrame EncodeSmall(Fill&& fill) {
  // Control messages fit in the first segment; a stack segment avoids allocating one.
  capnp::word scratch[32];
  std::memset(scratch, 0, sizeof(scratch));
  capnp::MallocMessageBuilder message(kj::arrayPtr(scratch, 32));
  fill(message.initRoot<wire::Message>());
  OutgoingFrame frame;
  Frame(message, nullptr, frame);
  return frame;
}

}  // namespace

OutgoingFrame EncodeHello(uint32_t protocol_version, std::string_view cluster_token,
                          std::string_view advertised_address) {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<wire::Message>().initHello();
  hello.setProtocolVersion(protocol_version);
  hello.setClusterToken(capnp::Text::Reader(cluster_token.data(), cluster_token.size()));
  hello.setAdvertisedAddress(
      capnp::Text::Reader(advertised_address.data(), advertised_address.size()));
  OutgoingFrame frame;
  Frame(message, nullptr, frame);
  return frame;
}

OutgoingFrame EncodeRequestChannel(const ChannelId& channel, uint32_t initial_credits) {
  return EncodeSmall([&](wire::Message::Builder root) {
    auto request = root.initRequestChannel();
    SetChannel(request.initChannel(), channel);
    request.setInitialCredits(initial_credits);
  });
}

OutgoingFrame EncodeDataBuffer(const ChannelId& channel, uint64_t sequence,
                               std::vector<std::byte>&& payload) {
  BROOK_CHECK(!payload.empty(), "a data buffer carries at least one element");
  OutgoingFrame frame;
  const size_t size = payload.size();
  frame.payload = std::move(payload);
  // The payload becomes the message's last segment as it is: pad it to whole words (zeros, so
  // no stale bytes leak onto the wire) and reference it instead of copying it.
  frame.payload.resize((size + kWordBytes - 1) / kWordBytes * kWordBytes);
  capnp::word scratch[16];
  std::memset(scratch, 0, sizeof(scratch));
  capnp::MallocMessageBuilder message(kj::arrayPtr(scratch, 16));
  auto data = message.initRoot<wire::Message>().initDataBuffer();
  SetChannel(data.initChannel(), channel);
  data.setSequence(sequence);
  auto bytes = reinterpret_cast<const kj::byte*>(frame.payload.data());
  data.adoptPayload(message.getOrphanage().referenceExternalData(capnp::Data::Reader(bytes, size)));
  Frame(message, frame.payload.data(), frame);
  return frame;
}

OutgoingFrame EncodeCredit(const ChannelId& channel, uint32_t credits) {
  return EncodeSmall([&](wire::Message::Builder root) {
    auto credit = root.initCredit();
    SetChannel(credit.initChannel(), channel);
    credit.setCredits(credits);
  });
}

OutgoingFrame EncodeCloseChannel(const ChannelId& channel, bool from_producer,
                                 std::string_view reason) {
  capnp::MallocMessageBuilder message;
  auto close = message.initRoot<wire::Message>().initCloseChannel();
  SetChannel(close.initChannel(), channel);
  close.setFromProducer(from_producer);
  close.setReason(capnp::Text::Reader(reason.data(), reason.size()));
  OutgoingFrame frame;
  Frame(message, nullptr, frame);
  return frame;
}

bool DecodeFrame(std::span<const std::byte> body, WireMessage& out, std::string& error) {
  if (body.empty() || body.size() % kWordBytes != 0) {
    error = "frame of " + std::to_string(body.size()) + " bytes is not whole words";
    return false;
  }
  const auto words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(body.data()),
                                  body.size() / kWordBytes);
  try {
    capnp::ReaderOptions options;
    options.nestingLimit = 8;  // our messages nest three deep
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      error = "frame has bytes after its message";
      return false;
    }
    auto root = reader.getRoot<wire::Message>();
    switch (root.which()) {
      case wire::Message::HELLO: {
        auto hello = root.getHello();
        out = HelloMessage{hello.getProtocolVersion(), ToString(hello.getClusterToken()),
                           ToString(hello.getAdvertisedAddress())};
        return true;
      }
      case wire::Message::REQUEST_CHANNEL: {
        auto request = root.getRequestChannel();
        out = RequestChannelMessage{GetChannel(request.getChannel()),
                                    request.getInitialCredits()};
        return true;
      }
      case wire::Message::DATA_BUFFER: {
        auto data = root.getDataBuffer();
        auto payload = data.getPayload();
        if (payload.size() == 0) {
          error = "data buffer without payload";
          return false;
        }
        out = DataBufferMessage{GetChannel(data.getChannel()), data.getSequence(),
                                std::span(reinterpret_cast<const std::byte*>(payload.begin()),
                                          payload.size())};
        return true;
      }
      case wire::Message::CREDIT: {
        auto credit = root.getCredit();
        out = CreditMessage{GetChannel(credit.getChannel()), credit.getCredits()};
        return true;
      }
      case wire::Message::CLOSE_CHANNEL: {
        auto close = root.getCloseChannel();
        out = CloseChannelMessage{GetChannel(close.getChannel()), close.getFromProducer(),
                                  ToString(close.getReason())};
        return true;
      }
    }
    error = "unknown message kind " + std::to_string(unsigned(root.which()));
    return false;
  } catch (const kj::Exception& e) {
    error = std::string("malformed Cap'n Proto message: ") + e.getDescription().cStr();
    return false;
  } catch (const std::exception& e) {
    error = std::string("malformed message: ") + e.what();
    return false;
  }
}

}  // namespace brook::network
