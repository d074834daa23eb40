// One TCP connection of the data plane, carrying the frames of many channels (internal to
// network_environment.cc; the only other file that sees Asio).
//
// Reading: a loop of "4-byte length, then that many bytes", each frame decoded and handed to the
// ConnectionHandler. The first frame must be the peer's Hello (at most kMaxHandshakeFrameBytes,
// within the handshake timeout); a bad length, an undecodable frame or a refused Hello closes
// the connection with a logged error.
// Writing: frames from any thread are queued; the strand writes everything queued in one
// gathered write, so a busy connection makes few system calls. Our Hello is always first.
//
// Threading: Send() and Close() from any thread; everything else runs on the connection's strand.
// Life cycle: shared_ptr, because pending reads, writes and timers hold the connection alive
// until they complete; Close() makes them complete. The handler must outlive the connection's
// callbacks (the environment joins its threads before it goes away).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "brook/runtime/network/buffer_pool.h"
#include "brook/runtime/network/network_channel_core.h"
#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/network/wire_internal.h"

namespace brook::network {

namespace asio = boost::asio;

class Connection;

// What a connection reports to its environment; called on the connection's strand.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The peer's Hello. False (saying why in `error`) refuses it: the connection closes.
  virtual bool AcceptHello(const std::shared_ptr<Connection>& connection,
                           const HelloMessage& hello, std::string& error) = 0;
  // Any later message. `body` is the frame it was decoded from (a DataBuffer's payload points
  // into it); the handler may take it. False (with `error`): protocol violation, close.
  virtual bool OnMessage(const std::shared_ptr<Connection>& connection, WireMessage& message,
                         std::vector<std::byte>& body, std::string& error) = 0;
  virtual void OnClosed(const std::shared_ptr<Connection>& connection,
                        const std::string& reason) = 0;
};

class Connection final : public FrameSink, public std::enable_shared_from_this<Connection> {
 public:
  // `socket` is unconnected (outbound) or accepted; its executor must be a strand. `hello` is
  // sent before any other frame.
  Connection(asio::ip::tcp::socket socket, ConnectionHandler& handler, BufferPool& pool,
             const NetworkOptions& options, OutgoingFrame hello, std::string peer, bool accepted);

  void StartAccepted();
  void StartConnect(asio::ip::tcp::resolver::results_type endpoints);
  void Send(OutgoingFrame frame) override;
  // Closes the socket and reports OnClosed once; `error` selects the log level. Idempotent.
  void Close(std::string reason, bool error);

  bool closed() const { return closed_.load(); }
  bool accepted() const { return accepted_; }
  const std::string& peer() const { return peer_; }

 private:
  void OnConnected();
  void ArmHandshakeTimer();
  void ReadHeader();
  void OnHeader(const boost::system::error_code& ec);
  void OnBody(const boost::system::error_code& ec);
  void WriteSome();
  void OnWritten(const boost::system::error_code& ec);
  void CloseOnError(const boost::system::error_code& ec, const char* what);

  ConnectionHandler& handler_;
  BufferPool& pool_;
  const NetworkOptions& options_;  // the environment's, which outlives us
  const std::string peer_;
  const bool accepted_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer handshake_timer_;
  std::atomic<bool> closed_{false};

  // Strand only.
  bool hello_received_ = false;
  std::array<std::byte, kFrameLengthBytes> length_{};
  std::vector<std::byte> body_;
  std::vector<OutgoingFrame> in_flight_;
  std::vector<asio::const_buffer> write_buffers_;

  std::mutex send_mutex_;
  std::deque<OutgoingFrame> queue_;  // guarded by send_mutex_
  bool connected_ = false;           // guarded by send_mutex_
  bool writing_ = false;             // guarded by send_mutex_: a WriteSome chain is running
};

}  // namespace brook::network
