// Settings and peer identity of the control-plane transport (brook_rpc): what a process says
// about itself in its Hello, and the limits it enforces on its peers.
//
// Threading: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace brook::rpc {

// Bumped when a peer of the previous version could not understand this one. Peers of different
// versions refuse each other at connection time, with an error naming both versions.
inline constexpr uint32_t kRpcProtocolVersion = 1;

// Token and name travel in the Hello, whose frame is capped while the peer is unauthenticated.
inline constexpr size_t kMaxClusterTokenBytes = 1024;
inline constexpr size_t kMaxPeerNameBytes = 256;

enum class PeerRole { kJobManager, kTaskManager, kClient };

// "job manager", "task manager", "client".
std::string_view ToString(PeerRole role);

struct RpcOptions {
  // Both ends must have the same token; an empty token is a token like any other.
  std::string cluster_token;
  // This process as its peers see it (PeerInfo::name on their side).
  std::string name;
  PeerRole role = PeerRole::kClient;
  // Largest frame (length prefix excluded) this side accepts and sends. Both ends should agree:
  // a peer closes the connection on a frame above its own limit.
  size_t max_frame_bytes = size_t{16} << 20;
  // Connecting plus the Hello exchange must complete within this (RpcServer: for each accepted
  // connection; RpcClient::Connect takes its own timeout).
  std::chrono::milliseconds handshake_timeout{10'000};
  // Threads that run socket I/O and every RpcHandler callback.
  int io_threads = 1;
  // RpcServer: further accepted connections are closed at once.
  size_t max_connections = 1024;
};

// Validates `options`; returns an empty string if they are usable, else what is wrong.
std::string ValidateRpcOptions(const RpcOptions& options);

// The other end of a connection, from its Hello.
struct PeerInfo {
  PeerRole role = PeerRole::kClient;
  std::string name;
  std::string remote_address;  // "ip:port" of the socket's other end
};

}  // namespace brook::rpc
