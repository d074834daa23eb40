// The connecting end of the control plane (task managers and tools towards the job manager).
// One client owns the I/O threads of every connection it makes; Connect blocks until the Hello
// exchange succeeded or failed. Reconnecting after a lost connection is the caller's decision.
//
// Threading: Connect and Stop from any thread except the client's own I/O threads (never from
// inside an RpcHandler callback). Callbacks: see rpc_connection.h.
// Life cycle: the I/O threads start in the constructor. Stop() (idempotent; also from the
// destructor) closes every connection (OnClosed for each established one) and joins them;
// Connect after Stop fails. `handler` must outlive the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "brook/cluster/rpc/rpc_connection.h"
#include "brook/cluster/rpc/rpc_options.h"

namespace brook::rpc {

class RpcClient {
 public:
  RpcClient(RpcOptions options, RpcHandler& handler);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Connects to host:port and exchanges Hellos, all within `timeout`. On success the handler's
  // OnConnected has run and the connection is returned. On failure: nullptr, and `*error` (if
  // given) says which: invalid options, cannot resolve, refused/unreachable, timed out, or the
  // server's refusal (wrong cluster token, other protocol version).
  std::shared_ptr<RpcConnection> Connect(const std::string& host, uint16_t port,
                                         std::chrono::milliseconds timeout,
                                         std::string* error = nullptr);
  // Connections established and not closed yet.
  size_t connection_count() const;
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook::rpc
