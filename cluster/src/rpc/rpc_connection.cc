#include "brook/cluster/rpc/rpc_connection.h"

#include <boost/asio/io_context.hpp>

#include "brook/runtime/network/framed_connection_internal.h"
#include "cluster/src/rpc/rpc_wire.h"

namespace brook::rpc {

RpcConnection::RpcConnection(std::shared_ptr<boost::asio::io_context> io,
                             std::shared_ptr<network::FramedConnection> framed,
                             std::string remote_address, size_t max_frame_bytes)
    : io_(std::move(io)), framed_(std::move(framed)), max_frame_bytes_(max_frame_bytes) {
  peer_.remote_address = std::move(remote_address);
}

RpcConnection::~RpcConnection() = default;

bool RpcConnection::Send(capnp::MessageBuilder& message, std::string* error) {
  std::string why;
  network::OutgoingFrame frame;
  if (closed()) {
    why = "connection to " + peer_.remote_address + " is closed";
  } else if (EncodeRpcFrame(message, max_frame_bytes_, frame, why)) {
    framed_->Send(std::move(frame));
    return true;
  }
  if (error != nullptr) *error = std::move(why);
  return false;
}

void RpcConnection::Close(std::string reason) { framed_->Close(std::move(reason), false); }

bool RpcConnection::closed() const { return framed_->closed(); }

}  // namespace brook::rpc
