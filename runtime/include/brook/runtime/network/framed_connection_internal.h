// One TCP connection that carries frames (frame.h) and knows nothing of what they mean: the
// transport under both the data plane (network_environment.cc) and the cluster's control plane
// (cluster/src/rpc). Internal: it includes Asio, so only those .cc files include it.
//
// Reading: a loop of "4-byte length, then that many bytes", several frames per read. The first frame goes to
// FrameHandler::OnHandshake (at most max_handshake_frame_bytes, within handshake_timeout), every
// later one to OnFrame. A length of zero, not a multiple of 8 (a Cap'n Proto message is whole
// words) or above the limit, a refused handshake, a rejected frame or a socket error closes the
// connection with a logged error.
// Writing: frames sent (one by Send, several by SendAll) while nothing is queued or being written
// are written at once, in one call without blocking, on the sending thread; whatever the socket
// does not take is queued, and the strand writes everything queued in one gathered write, so a
// busy connection makes few system calls.
// Frames queued before the connection is established (the protocol's own Hello) go out first.
//
// Threading: Send(), Close() and the accessors from any thread; everything else, and every
// FrameHandler callback, runs on the connection's strand.
// Life cycle: shared_ptr, because pending reads, writes and timers hold the connection alive
// until they complete; Close() makes them complete. After OnClosed the handler is never called
// again for this connection. The handler must outlive the connection's callbacks (its owner joins
// the I/O threads before it goes away).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "brook/runtime/network/frame.h"

namespace brook::network {

// Compares cluster tokens in time independent of where they differ (both handshakes use it:
// the data plane's and the control plane's).
inline bool TokensEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

class BufferPool;
class FramedConnection;

// What a connection reports to its owner; called on the connection's strand. `body` is the frame
// without its length prefix, 8-byte aligned; the handler may take it (move from it).
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // The peer's first frame. False (saying why in `error`) refuses the peer: frames queued until
  // then (say a Hello that tells the peer why) are still written, then the connection closes.
  virtual bool OnHandshake(const std::shared_ptr<FramedConnection>& connection,
                           std::vector<std::byte>& body, std::string& error) = 0;
  // Any later frame. False (with `error`): protocol violation, the connection closes at once.
  virtual bool OnFrame(const std::shared_ptr<FramedConnection>& connection,
                       std::vector<std::byte>& body, std::string& error) = 0;
  // Once per connection, whether it was established or not.
  virtual void OnClosed(const std::shared_ptr<FramedConnection>& connection,
                        const std::string& reason) = 0;
};

struct FramedConnectionOptions {
  size_t max_frame_bytes = size_t{16} << 20;
  // Before the handshake frames are Hellos: small. Capping them keeps an unauthenticated peer
  // from making the process allocate max-size buffers.
  size_t max_handshake_frame_bytes = 4096;
  // Connecting (outbound) and receiving the peer's first frame must both happen within this.
  std::chrono::milliseconds handshake_timeout{10'000};
  const char* log_name = "brook network";  // prefix of log lines; a string literal
};

class FramedConnection final : public FrameSink,
                               public std::enable_shared_from_this<FramedConnection> {
 public:
  // `socket` is unconnected (outbound) or accepted; its executor must be a strand. `pool`, if not
  // null, supplies read buffers and takes back written payloads; it must outlive the connection.
  // `peer` names the other end in logs.
  FramedConnection(boost::asio::ip::tcp::socket socket, FrameHandler& handler, BufferPool* pool,
                   const FramedConnectionOptions& options, std::string peer, bool accepted);

  void StartAccepted();
  void StartConnect(boost::asio::ip::tcp::resolver::results_type endpoints);
  void Send(OutgoingFrame frame) override;
  void SendAll(std::vector<OutgoingFrame>& frames) override;
  // Closes the socket and reports OnClosed once; `error` selects the log level. Idempotent.
  void Close(std::string reason, bool error);

  bool closed() const { return closed_.load(); }
  bool accepted() const { return accepted_; }
  const std::string& peer() const { return peer_; }

 private:
  void OnConnected();
  void ArmHandshakeTimer();
  void ReadMore();
  // Reads behind the `kept` bytes (a partial length prefix) at the front of read_buffer_.
  void ReadMoreAfter(size_t kept);
  // Reads the rest of body_ (its first `filled` bytes are there) and what follows it.
  void FinishBody(size_t filled);
  void OnRead(const boost::system::error_code& ec, size_t n);
  // False (closing the connection) for a length the protocol does not allow here.
  bool CheckLength(uint32_t length);
  // Hands body_ to the handler; false if the connection closed.
  bool HandleBody();
  // Writes what the socket takes of `frames` now, in one call without blocking, on the calling
  // thread; returns the bytes written (0 on EAGAIN or an error). REQUIRES: send_mutex_ held, no
  // write in progress.
  size_t WriteNow(std::span<const OutgoingFrame> frames);
  // Queues `frames` (moved from), the first `written` bytes of which went out already, and
  // returns true if the caller must start the strand's writer. REQUIRES: send_mutex_ held.
  bool QueueLocked(std::span<OutgoingFrame> frames, size_t written);
  // Send and SendAll: writes at once what the socket takes, queues the rest in order.
  void SendFrames(std::span<OutgoingFrame> frames);
  void WriteSome();
  void OnWritten(const boost::system::error_code& ec);
  void CloseOnError(const boost::system::error_code& ec, const char* what);
  void CloseAfterWriting(std::string reason);

  FrameHandler& handler_;
  BufferPool* const pool_;
  const FramedConnectionOptions options_;
  const std::string peer_;
  const bool accepted_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer handshake_timer_;
  std::atomic<bool> closed_{false};

  // Strand only.
  bool handshake_done_ = false;
  std::vector<std::byte> read_buffer_;  // what the socket gave, not yet handled
  std::vector<std::byte> body_;         // the frame being handled
  std::vector<OutgoingFrame> in_flight_;
  std::vector<boost::asio::const_buffer> write_buffers_;

  std::mutex send_mutex_;
  std::deque<OutgoingFrame> queue_;  // guarded by send_mutex_
  bool connected_ = false;           // guarded by send_mutex_
  bool writing_ = false;             // guarded by send_mutex_: a WriteSome chain is running
  size_t first_frame_written_ = 0;   // guarded by send_mutex_: bytes of queue_.front() sent
  bool refusing_ = false;            // guarded by send_mutex_: close once the queue is written
  std::string refusal_;              // guarded by send_mutex_: the reason to close with then
};

}  // namespace brook::network
