#include "brook/runtime/network/framed_connection_internal.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "brook/runtime/network/buffer_pool.h"

namespace brook::network {

namespace asio = boost::asio;

namespace {
// One gathered write takes at most this much, so a writer blocked by a slow socket holds
// a bounded number of buffers out of the pool.
constexpr size_t kMaxFramesPerWrite = 64;
constexpr size_t kMaxBytesPerWrite = size_t{2} << 20;
// Frames one direct write on the sender's thread takes at most (two parts each); the strand
// writes whatever does not fit.
constexpr size_t kMaxFramesPerDirectWrite = 16;
// Without a pool, a read buffer that grew beyond this for one large frame is let go, so an idle
// connection does not pin the memory of its largest frame.
constexpr size_t kMaxRetainedBodyBytes = size_t{64} << 10;
// What one read takes at most: several network buffers, so one system call brings many frames.
// 256 KiB: against 128 KiB, the shuffle bench's receiving I/O thread made 11.3K instead of 15.6K
// epoll waits and 15K instead of 19K reads per GB; 512 KiB saved nothing more.
constexpr size_t kReadChunkBytes = size_t{256} << 10;
}  // namespace

FramedConnection::FramedConnection(asio::ip::tcp::socket socket, FrameHandler& handler,
                                   BufferPool* pool, const FramedConnectionOptions& options,
                                   std::string peer, bool accepted)
    : handler_(handler),
      pool_(pool),
      options_(options),
      peer_(std::move(peer)),
      accepted_(accepted),
      socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()) {}

void FramedConnection::StartAccepted() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->ArmHandshakeTimer();
    self->OnConnected();
  });
}

void FramedConnection::StartConnect(asio::ip::tcp::resolver::results_type endpoints) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), endpoints] {
    if (self->closed()) return;
    self->ArmHandshakeTimer();  // also bounds the connect itself
    asio::async_connect(self->socket_, endpoints,
                        [self](const boost::system::error_code& ec, const auto&) {
                          if (ec) return self->CloseOnError(ec, "cannot connect");
                          self->OnConnected();
                        });
  });
}

void FramedConnection::ArmHandshakeTimer() {
  handshake_timer_.expires_after(options_.handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->handshake_done_) return;
    self->Close("no handshake within " + std::to_string(self->options_.handshake_timeout.count()) +
                    " ms",
                true);
  });
}

void FramedConnection::OnConnected() {
  if (closed()) return;
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);  // latency: frames are batches
  bool start;
  {
    std::lock_guard lock(send_mutex_);
    connected_ = true;
    start = !writing_ && !queue_.empty();
    writing_ = writing_ || start;
  }
  if (start) WriteSome();
  ReadMore();
}

void FramedConnection::Send(OutgoingFrame frame) { SendFrames({&frame, 1}); }

void FramedConnection::SendAll(std::vector<OutgoingFrame>& frames) {
  SendFrames(frames);
  frames.clear();
}

void FramedConnection::SendFrames(std::span<OutgoingFrame> frames) {
  bool start = false;
  {
    std::lock_guard lock(send_mutex_);
    if (closed() || refusing_) return;
    size_t written = 0;
    if (connected_ && !writing_ && queue_.empty()) {
      // Nothing queued: write on the caller's thread. Waking the I/O thread for every buffer
      // costs two context switches, more than the write itself on a busy machine.
      written = WriteNow(frames);
      while (!frames.empty() && written >= frames.front().size()) {
        written -= frames.front().size();
        if (pool_ != nullptr && !frames.front().payload.empty())
          pool_->Release(std::move(frames.front().payload));
        frames = frames.subspan(1);
      }
      if (frames.empty()) return;
      // The socket is full: the strand writes the rest, starting `written` bytes in.
    }
    start = QueueLocked(frames, written);
  }
  if (start) asio::post(socket_.get_executor(), [self = shared_from_this()] { self->WriteSome(); });
}

bool FramedConnection::QueueLocked(std::span<OutgoingFrame> frames, size_t written) {
  if (written > 0) first_frame_written_ = written;  // only ever with an empty queue
  for (auto& frame : frames) queue_.push_back(std::move(frame));
  if (!connected_ || writing_) return false;
  writing_ = true;
  return true;
}

size_t FramedConnection::WriteNow(std::span<const OutgoingFrame> frames) {
  iovec parts[2 * kMaxFramesPerDirectWrite];
  size_t count = 0;
  for (const auto& frame : frames.first(std::min(frames.size(), kMaxFramesPerDirectWrite))) {
    parts[count++] = {const_cast<std::byte*>(frame.head.data()), frame.head.size()};
    if (!frame.payload.empty())
      parts[count++] = {const_cast<std::byte*>(frame.payload.data()), frame.payload.size()};
  }
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = count;
  const ssize_t n = ::sendmsg(socket_.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  // On an error nothing is written here; the strand's write meets the same error and closes.
  return n > 0 ? size_t(n) : 0;
}

void FramedConnection::WriteSome() {
  size_t skip = 0;
  {
    std::lock_guard lock(send_mutex_);
    if (queue_.empty() || closed()) {
      writing_ = false;
      if (refusing_ && !closed()) {
        asio::post(socket_.get_executor(),
                   [self = shared_from_this(), reason = refusal_] { self->Close(reason, true); });
      }
      return;
    }
    skip = std::exchange(first_frame_written_, 0);
    size_t bytes = 0;
    while (!queue_.empty() && in_flight_.size() < kMaxFramesPerWrite && bytes < kMaxBytesPerWrite) {
      bytes += queue_.front().size();
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  write_buffers_.clear();
  for (const auto& frame : in_flight_) {
    write_buffers_.push_back(asio::buffer(frame.head));
    if (!frame.payload.empty()) write_buffers_.push_back(asio::buffer(frame.payload));
  }
  // The first frame's start may have gone out already (Send's direct write).
  for (auto it = write_buffers_.begin(); skip > 0;) {
    const size_t n = std::min(skip, it->size());
    *it += n;
    skip -= n;
    if (it->size() == 0) it = write_buffers_.erase(it);
  }
  asio::async_write(socket_, write_buffers_,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->OnWritten(ec);
                    });
}

void FramedConnection::OnWritten(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "write failed");
  if (pool_ != nullptr) {
    for (auto& frame : in_flight_)
      if (!frame.payload.empty()) pool_->Release(std::move(frame.payload));
  }
  in_flight_.clear();
  WriteSome();
}

// Reading: one read takes whatever the socket holds (up to kReadChunkBytes), and every whole frame
// in it is copied out and handled, so a busy connection handles several frames per system call
// and wakes their consumers once. A frame that arrived in part is finished with a read straight
// into its own buffer (so large frames are copied at most once, by the part that came early)
// that goes on into the read buffer, so the frames behind it come with the same call.
void FramedConnection::ReadMore() {
  // Before the handshake only a small Hello may come: an unknown peer gets a small buffer.
  const size_t want = handshake_done_ ? kReadChunkBytes : options_.max_handshake_frame_bytes;
  if (read_buffer_.size() < want) read_buffer_.resize(want);
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
}

void FramedConnection::OnRead(const boost::system::error_code& ec, size_t n) {
  if (ec) return CloseOnError(ec, "read failed");
  const std::byte* data = read_buffer_.data();
  size_t pos = 0;
  while (!closed()) {
    const size_t available = n - pos;
    if (available == 0) return ReadMore();
    if (available < kFrameLengthBytes) {
      // A partial length prefix: keep it at the front and read behind it.
      std::memmove(read_buffer_.data(), data + pos, available);
      return ReadMoreAfter(available);
    }
    const uint32_t length =
        DecodeFrameLength(std::span<const std::byte, kFrameLengthBytes>(data + pos, 4));
    if (!CheckLength(length)) return;
    pos += kFrameLengthBytes;
    if (body_.capacity() == 0 && pool_ != nullptr) body_ = pool_->Acquire();
    const size_t here = std::min<size_t>(length, n - pos);
    body_.assign(data + pos, data + pos + here);
    pos += here;
    if (here < length) {
      body_.resize(length);
      return FinishBody(here);
    }
    if (!HandleBody()) return;
  }
}

void FramedConnection::FinishBody(size_t filled) {
  // One read fills the rest of the body and goes on into read_buffer_: the frames behind this
  // one come with the same system call.
  const std::array<asio::mutable_buffer, 2> parts{
      asio::buffer(body_.data() + filled, body_.size() - filled), asio::buffer(read_buffer_)};
  socket_.async_read_some(parts, [self = shared_from_this(), filled](
                                     const boost::system::error_code& ec, size_t n) {
    if (ec) return self->CloseOnError(ec, "read failed");
    const size_t missing = self->body_.size() - filled;
    if (n < missing) return self->FinishBody(filled + n);
    if (self->HandleBody()) self->OnRead(ec, n - missing);  // what went on into read_buffer_
  });
}

void FramedConnection::ReadMoreAfter(size_t kept) {
  socket_.async_read_some(
      asio::buffer(read_buffer_.data() + kept, read_buffer_.size() - kept),
      [self = shared_from_this(), kept](const boost::system::error_code& ec, size_t n) {
        self->OnRead(ec, kept + n);
      });
}

bool FramedConnection::CheckLength(uint32_t length) {
  const size_t limit =
      handshake_done_ ? options_.max_frame_bytes : options_.max_handshake_frame_bytes;
  if (length > limit) {
    Close("malformed frame: length " + std::to_string(length) + " exceeds the limit of " +
              std::to_string(limit) + " bytes",
          true);
    return false;
  }
  if (length == 0 || length % 8 != 0) {
    Close("malformed frame: length " + std::to_string(length) +
              " is not a positive multiple of 8",
          true);
    return false;
  }
  return true;
}

bool FramedConnection::HandleBody() {
  if (closed()) return false;  // Close() from another thread: the handler hears nothing more
  std::string error;
  auto self = shared_from_this();
  if (!handshake_done_) {
    if (!handler_.OnHandshake(self, body_, error)) {
      CloseAfterWriting("handshake refused: " + error);
      return false;
    }
    handshake_done_ = true;
    handshake_timer_.cancel();
  } else if (!handler_.OnFrame(self, body_, error)) {
    Close("protocol error: " + error, true);
    return false;
  }
  if (pool_ == nullptr && body_.capacity() > kMaxRetainedBodyBytes) body_ = {};
  return !closed();
}

void FramedConnection::CloseAfterWriting(std::string reason) {
  // Reading stops here; the handshake timer (still armed) bounds how long the writes may take.
  bool now;
  {
    std::lock_guard lock(send_mutex_);
    now = queue_.empty() && !writing_;
    if (!now) {
      refusing_ = true;
      refusal_ = reason;
    }
  }
  if (now) Close(std::move(reason), true);
}

void FramedConnection::CloseOnError(const boost::system::error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted && closed()) return;  // our own Close()
  if (ec == asio::error::eof) return Close("closed by the peer", false);
  Close(std::string(what) + ": " + ec.message(), true);
}

void FramedConnection::Close(std::string reason, bool error) {
  if (closed_.exchange(true)) return;
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason = std::move(reason),
                                      error] {
    if (error) {
      spdlog::error("{}: closing connection {} ({}): {}", self->options_.log_name, self->peer_,
                    self->accepted_ ? "accepted" : "outbound", reason);
    } else {
      spdlog::debug("{}: connection {} closed: {}", self->options_.log_name, self->peer_, reason);
    }
    {
      // Under the send lock: Send() may be writing to the descriptor from another thread.
      std::lock_guard lock(self->send_mutex_);
      boost::system::error_code ignored;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
      self->queue_.clear();
    }
    self->handshake_timer_.cancel();
    self->handler_.OnClosed(self, reason);
  });
}

}  // namespace brook::network
