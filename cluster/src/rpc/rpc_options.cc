#include "brook/cluster/rpc/rpc_options.h"

#include "cluster/src/rpc/rpc_wire.h"

namespace brook::rpc {

std::string_view ToString(PeerRole role) {
  switch (role) {
    case PeerRole::kJobManager:
      return "job manager";
    case PeerRole::kTaskManager:
      return "task manager";
    case PeerRole::kClient:
      return "client";
  }
  return "unknown role";
}

std::string ValidateRpcOptions(const RpcOptions& options) {
  if (options.cluster_token.size() > kMaxClusterTokenBytes)
    return "cluster token longer than " + std::to_string(kMaxClusterTokenBytes) + " bytes";
  if (options.name.size() > kMaxPeerNameBytes)
    return "name longer than " + std::to_string(kMaxPeerNameBytes) + " bytes";
  if (options.max_frame_bytes < kMaxHelloFrameBytes || options.max_frame_bytes > UINT32_MAX)
    return "max_frame_bytes must be between " + std::to_string(kMaxHelloFrameBytes) + " and " +
           std::to_string(UINT32_MAX);
  if (options.handshake_timeout.count() <= 0) return "handshake_timeout must be positive";
  if (options.io_threads < 1 || options.io_threads > 64)
    return "io_threads must be between 1 and 64";
  if (options.max_connections < 1) return "max_connections must be at least 1";
  return {};
}

}  // namespace brook::rpc
