// The unit every Brook TCP protocol speaks (the data plane between task managers and the control
// plane of the cluster): a frame is a 4-byte little-endian length L, then L bytes of one Cap'n
// Proto message (segment table and segments). What the message means is the protocol's business;
// this header only knows frames as bytes, so both protocols share FramedConnection.
//
// Threading: plain values and functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace brook::network {

inline constexpr size_t kFrameLengthBytes = 4;

// One encoded frame, ready to write. `head` holds the length prefix and the message; `payload`
// (possibly empty) is written right after it, so a large block of bytes that is the message's
// last segment (the data plane's DataBuffer) is never copied into `head`.
struct OutgoingFrame {
  std::vector<std::byte> head;
  std::vector<std::byte> payload;

  size_t size() const { return head.size() + payload.size(); }
  // The whole frame in one vector (tests; the connection writes head and payload separately).
  std::vector<std::byte> Flatten() const {
    std::vector<std::byte> all(head);
    all.insert(all.end(), payload.begin(), payload.end());
    return all;
  }
};

// The frame length from a 4-byte prefix.
inline uint32_t DecodeFrameLength(std::span<const std::byte, kFrameLengthBytes> prefix) {
  uint32_t length;
  std::memcpy(&length, prefix.data(), kFrameLengthBytes);  // little-endian host (serde.h)
  return length;
}

// The sending half of a connection as its users see it (implemented by FramedConnection).
// Threading: any thread.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Queues `frame`; frames go out in the order queued. Dropped once the connection is closed.
  virtual void Send(OutgoingFrame frame) = 0;
  // Queues every frame of `frames` in order and empties it. A connection with nothing queued
  // writes them in one system call: on this kind of machine a call costs as much as copying
  // tens of kilobytes, so a producer that has several buffers ready hands them over together.
  virtual void SendAll(std::vector<OutgoingFrame>& frames) {
    for (auto& frame : frames) Send(std::move(frame));
    frames.clear();
  }
};

}  // namespace brook::network
