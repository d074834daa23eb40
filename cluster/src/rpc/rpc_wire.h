// Frames of the control-plane transport, without any socket code: encoding a Cap'n Proto message
// as one frame, the transport's Hello (rpc_hello.capnp), and the limits for reading a frame.
// Shared by the endpoint and the tests, which speak the protocol over raw sockets.
//
// Internal to brook_rpc and its tests. Threading: plain functions and values.
#pragma once

#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "brook/cluster/rpc/rpc_options.h"
#include "brook/runtime/network/frame.h"

namespace brook::rpc {

// A Hello frame is at most this large (token and name are capped, see rpc_options.h).
inline constexpr size_t kMaxHelloFrameBytes = 4096;

// Writes `message` as one frame (length prefix, segment table, segments) into `frame.head`.
// False, saying why in `error`, if its encoding is larger than `max_frame_bytes`.
bool EncodeRpcFrame(capnp::MessageBuilder& message, size_t max_frame_bytes,
                    network::OutgoingFrame& frame, std::string& error);

struct RpcHelloMessage {
  uint32_t protocol_version = kRpcProtocolVersion;
  std::string cluster_token;
  PeerRole role = PeerRole::kClient;
  std::string name;
  std::string refusal;  // non-empty only in a refusing answer
};

network::OutgoingFrame EncodeRpcHello(const RpcHelloMessage& hello);

// Decodes a frame body (the bytes after the length prefix) holding a Hello. False, saying why in
// `error`, if it is not one; never throws. REQUIRES: body.data() is 8-byte aligned.
bool DecodeRpcHello(std::span<const std::byte> body, RpcHelloMessage& out, std::string& error);

// Reading limits for a frame of `words` words: the traversal limit allows each word to be read
// a few times over (a handler may look at a field twice) but bounds amplification by pointers
// that alias, however the message is built.
capnp::ReaderOptions ReaderOptionsForFrame(size_t words);

}  // namespace brook::rpc
