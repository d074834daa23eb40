// The accepting end of the control plane (the job manager's RPC port): listens on host:port,
// checks each connector's Hello (version, cluster token) and hands established connections to the
// RpcHandler. A refused, silent or misbehaving peer is closed with a logged error; the server
// keeps serving everyone else.
//
// Threading: Start/Stop/port from any thread except the server's own I/O threads (that is,
// never from inside an RpcHandler callback). Callbacks: see rpc_connection.h.
// Life cycle: constructed -> Start() -> serving -> Stop() (idempotent; also from the destructor):
// stops accepting, closes every connection (OnClosed for each), joins the I/O threads. A server
// is started at most once. `handler` must outlive the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "brook/cluster/rpc/rpc_connection.h"
#include "brook/cluster/rpc/rpc_options.h"

namespace brook::rpc {

class RpcServer {
 public:
  RpcServer(RpcOptions options, RpcHandler& handler);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds host:port (port 0: an ephemeral port, see port()) and starts accepting. False, saying
  // why in `*error` if given: invalid options, address in use, started twice.
  bool Start(const std::string& host, uint16_t port, std::string* error = nullptr);
  // The bound port after a successful Start(), else 0.
  uint16_t port() const;
  // Connections established and not closed yet.
  size_t connection_count() const;
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook::rpc
