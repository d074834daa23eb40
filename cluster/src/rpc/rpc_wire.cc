#include "cluster/src/rpc/rpc_wire.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>

#include "cluster/src/rpc/rpc_hello.capnp.h"

namespace brook::rpc {
namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);

capnp::Text::Reader AsText(const std::string& text) {
  return capnp::Text::Reader(text.data(), text.size());
}

std::string ToString(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

}  // namespace

bool EncodeRpcFrame(capnp::MessageBuilder& message, size_t max_frame_bytes,
                    network::OutgoingFrame& frame, std::string& error) {
  const size_t bytes = capnp::computeSerializedSizeInWords(message) * kWordBytes;
  if (bytes > max_frame_bytes || bytes > UINT32_MAX) {
    error = "message of " + std::to_string(bytes) + " bytes exceeds max_frame_bytes (" +
            std::to_string(max_frame_bytes) + ")";
    return false;
  }
  auto& head = frame.head;
  head.resize(network::kFrameLengthBytes + bytes);
  const uint32_t length = static_cast<uint32_t>(bytes);
  std::memcpy(head.data(), &length, network::kFrameLengthBytes);  // little-endian host
  kj::ArrayOutputStream out(
      kj::arrayPtr(reinterpret_cast<kj::byte*>(head.data()) + network::kFrameLengthBytes, bytes));
  capnp::writeMessage(out, message);
  return true;
}

network::OutgoingFrame EncodeRpcHello(const RpcHelloMessage& hello) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::RpcHello>();
  root.setProtocolVersion(hello.protocol_version);
  root.setClusterToken(AsText(hello.cluster_token));
  root.setRole(static_cast<wire::PeerRole>(hello.role));
  root.setName(AsText(hello.name));
  if (!hello.refusal.empty()) root.setRefusal(AsText(hello.refusal));
  network::OutgoingFrame frame;
  std::string ignored;
  EncodeRpcFrame(message, SIZE_MAX, frame, ignored);
  return frame;
}

bool DecodeRpcHello(std::span<const std::byte> body, RpcHelloMessage& out, std::string& error) {
  if (body.empty() || body.size() % kWordBytes != 0) {
    error = "Hello of " + std::to_string(body.size()) + " bytes is not whole words";
    return false;
  }
  const auto words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(body.data()),
                                  body.size() / kWordBytes);
  try {
    capnp::FlatArrayMessageReader reader(words, ReaderOptionsForFrame(words.size()));
    if (reader.getEnd() != words.end()) {
      error = "Hello has bytes after its message";
      return false;
    }
    auto hello = reader.getRoot<wire::RpcHello>();
    const auto role = static_cast<uint16_t>(hello.getRole());
    if (role > static_cast<uint16_t>(PeerRole::kClient)) {
      error = "Hello names unknown role " + std::to_string(role);
      return false;
    }
    out.protocol_version = hello.getProtocolVersion();
    out.cluster_token = ToString(hello.getClusterToken());
    out.role = static_cast<PeerRole>(role);
    out.name = ToString(hello.getName());
    out.refusal = ToString(hello.getRefusal());
    return true;
  } catch (const kj::Exception& e) {
    error = std::string("malformed Hello: ") + e.getDescription().cStr();
    return false;
  } catch (const std::exception& e) {
    error = std::string("malformed Hello: ") + e.what();
    return false;
  }
}

capnp::ReaderOptions ReaderOptionsForFrame(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::max<uint64_t>(uint64_t{8} * words, uint64_t{1} << 20);
  return options;
}

}  // namespace brook::rpc
