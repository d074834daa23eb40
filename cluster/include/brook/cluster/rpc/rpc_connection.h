// One established control-plane connection (job manager <-> task manager, tool -> job manager)
// and the handler that receives its messages. The transport is message-agnostic: a message is any
// Cap'n Proto message; the protocol above decides its root type.
//
// Wire: every frame is a 4-byte little-endian length, then one Cap'n Proto message (segment
// table and segments). Before any message, both sides exchange Hellos (rpc_hello.capnp) carrying
// kRpcProtocolVersion, the cluster token, role and name; a mismatch refuses the connection.
// Incoming frames above max_frame_bytes, of zero length, or that are not a Cap'n Proto message
// close that connection with a logged error; nothing else is affected.
//
// Threading: RpcConnection's methods from any thread. RpcHandler callbacks run on the
// connection's strand (an I/O thread of the RpcServer/RpcClient): one at a time per connection,
// in order, concurrently across connections if io_threads > 1. A callback must not block for
// long (it holds up its connection) and must not call RpcServer/RpcClient::Stop().
// Life cycle: made by RpcServer (accepted) or RpcClient::Connect; shared_ptr because the I/O
// machinery and the user both hold it. OnConnected, then any number of OnMessage, then OnClosed
// exactly once; after Stop() of its server/client returns, no more callbacks. A connection
// outliving its server/client is closed and inert (Send returns false).
#pragma once

#include <memory>
#include <string>

#include "brook/cluster/rpc/rpc_options.h"

namespace capnp {
class MessageBuilder;
class MessageReader;
}  // namespace capnp

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace brook::network {
class FramedConnection;
}  // namespace brook::network

namespace brook::rpc {

class RpcConnection {
 public:
  // Made by RpcServer/RpcClient only (cluster/src/rpc/rpc_endpoint.cc). `io` runs `framed`'s
  // socket: the connection keeps it alive, so a connection may outlive its server or client.
  RpcConnection(std::shared_ptr<boost::asio::io_context> io,
                std::shared_ptr<network::FramedConnection> framed, std::string remote_address,
                size_t max_frame_bytes);
  ~RpcConnection();
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  // Serializes `message` at once (the caller may reuse it on return) and queues it; messages go
  // out in the order of Send calls. False, saying why in `*error` if given, when the message is
  // larger than max_frame_bytes (nothing is sent, the connection stays open) or the connection
  // is closed.
  bool Send(capnp::MessageBuilder& message, std::string* error = nullptr);
  // Closes the connection; OnClosed(reason) follows on the I/O thread. Idempotent.
  void Close(std::string reason);
  bool closed() const;
  // The peer's role and name from its Hello, and its address. Fixed before OnConnected.
  const PeerInfo& peer() const { return peer_; }

 private:
  friend class RpcEndpoint;

  // Declared first so that it goes last: the socket in framed_ needs its io_context.
  const std::shared_ptr<boost::asio::io_context> io_;
  const std::shared_ptr<network::FramedConnection> framed_;
  const size_t max_frame_bytes_;
  PeerInfo peer_;  // role and name set by RpcEndpoint before the connection is published
};

class RpcHandler {
 public:
  virtual ~RpcHandler() = default;
  // The Hello exchange succeeded. An exception thrown here closes the connection.
  virtual void OnConnected(const std::shared_ptr<RpcConnection>& connection) = 0;
  // One message. `message` and everything read from it are valid only during the call. An
  // exception (kj::Exception from reading a malformed message, or any std::exception) is a
  // protocol violation: logged, and the connection closes.
  virtual void OnMessage(const std::shared_ptr<RpcConnection>& connection,
                         capnp::MessageReader& message) = 0;
  // Once per connection that saw OnConnected: closed by either side, a protocol error, or Stop().
  virtual void OnClosed(const std::shared_ptr<RpcConnection>& connection,
                        const std::string& reason) = 0;
};

}  // namespace brook::rpc
