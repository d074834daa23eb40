// The frames of the data-plane protocol (schema: runtime/src/network/network.capnp), encoded and
// decoded without any socket code, so the connection, the channels and tests share one codec.
//
// Frame: a 4-byte little-endian length L, then L bytes of a Cap'n Proto message (segment table
// and segments) whose root is wire::Message. L is a positive multiple of 8 and at most the
// receiver's max_frame_bytes; anything else is a malformed frame that closes the connection.
//
// Internal to the runtime's network layer and its tests.
// Threading: plain functions and values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "brook/runtime/network/channel_id.h"
#include "brook/runtime/network/frame.h"

namespace brook::network {

// Bumped when a peer of the previous version could not understand this one.
inline constexpr uint32_t kProtocolVersion = 1;
// Bytes a DataBuffer frame takes beyond its payload: length prefix, segment table, root struct
// and channel id, with room to spare. A payload may be at most max_frame_bytes minus this.
inline constexpr size_t kDataFrameOverhead = 128;
// Frames before the handshake is done are Hellos: a few hundred bytes. Capping them keeps an
// unauthenticated peer from making the process allocate max-size buffers.
inline constexpr size_t kMaxHandshakeFrameBytes = 4096;

OutgoingFrame EncodeHello(uint32_t protocol_version, std::string_view cluster_token,
                          std::string_view advertised_address);
OutgoingFrame EncodeRequestChannel(const ChannelId& channel, uint32_t initial_credits);
// Takes the payload's storage; REQUIRES: payload is not empty.
OutgoingFrame EncodeDataBuffer(const ChannelId& channel, uint64_t sequence,
                               std::vector<std::byte>&& payload);
OutgoingFrame EncodeCredit(const ChannelId& channel, uint32_t credits);
OutgoingFrame EncodeCloseChannel(const ChannelId& channel, bool from_producer,
                                 std::string_view reason);

struct HelloMessage {
  uint32_t protocol_version = 0;
  std::string cluster_token;
  std::string advertised_address;
};
struct RequestChannelMessage {
  ChannelId channel;
  uint32_t initial_credits = 0;
};
struct DataBufferMessage {
  ChannelId channel;
  uint64_t sequence = 0;
  std::span<const std::byte> payload;  // points into the frame body it was decoded from
};
struct CreditMessage {
  ChannelId channel;
  uint32_t credits = 0;
};
struct CloseChannelMessage {
  ChannelId channel;
  bool from_producer = false;
  std::string reason;
};
using WireMessage = std::variant<HelloMessage, RequestChannelMessage, DataBufferMessage,
                                 CreditMessage, CloseChannelMessage>;

// Decodes one frame body (the L bytes after the prefix) into `out`. Returns false and says why
// in `error` if the bytes are not a well-formed Message of a known kind; never throws.
// REQUIRES: body.data() is 8-byte aligned (any heap-allocated vector is).
bool DecodeFrame(std::span<const std::byte> body, WireMessage& out, std::string& error);

}  // namespace brook::network
