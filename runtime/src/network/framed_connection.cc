#include "brook/runtime/network/framed_connection_internal.h"

#include <spdlog/spdlog.h>

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
// Without a pool, a read buffer that grew beyond this for one large frame is let go, so an idle
// connection does not pin the memory of its largest frame.
constexpr size_t kMaxRetainedBodyBytes = size_t{64} << 10;
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
  ReadHeader();
}

void FramedConnection::Send(OutgoingFrame frame) {
  bool start = false;
  {
    std::lock_guard lock(send_mutex_);
    if (closed() || refusing_) return;
    queue_.push_back(std::move(frame));
    if (connected_ && !writing_) start = writing_ = true;
  }
  if (start) asio::post(socket_.get_executor(), [self = shared_from_this()] { self->WriteSome(); });
}

void FramedConnection::WriteSome() {
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

void FramedConnection::ReadHeader() {
  asio::async_read(socket_, asio::buffer(length_),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnHeader(ec);
                   });
}

void FramedConnection::OnHeader(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "read failed");
  if (closed()) return;
  const uint32_t length = DecodeFrameLength(length_);
  const size_t limit =
      handshake_done_ ? options_.max_frame_bytes : options_.max_handshake_frame_bytes;
  if (length > limit) {
    return Close("malformed frame: length " + std::to_string(length) + " exceeds the limit of " +
                     std::to_string(limit) + " bytes",
                 true);
  }
  if (length == 0 || length % 8 != 0) {
    return Close("malformed frame: length " + std::to_string(length) +
                     " is not a positive multiple of 8",
                 true);
  }
  if (body_.capacity() == 0 && pool_ != nullptr) body_ = pool_->Acquire();
  body_.resize(length);
  asio::async_read(socket_, asio::buffer(body_.data(), length),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnBody(ec);
                   });
}

void FramedConnection::OnBody(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "read failed");
  if (closed()) return;  // Close() from another thread: the handler hears nothing more
  std::string error;
  auto self = shared_from_this();
  if (!handshake_done_) {
    if (!handler_.OnHandshake(self, body_, error)) {
      return CloseAfterWriting("handshake refused: " + error);
    }
    handshake_done_ = true;
    handshake_timer_.cancel();
  } else if (!handler_.OnFrame(self, body_, error)) {
    return Close("protocol error: " + error, true);
  }
  if (pool_ == nullptr && body_.capacity() > kMaxRetainedBodyBytes) body_ = {};
  if (!closed()) ReadHeader();
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
    boost::system::error_code ignored;
    self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    self->socket_.close(ignored);
    self->handshake_timer_.cancel();
    {
      std::lock_guard lock(self->send_mutex_);
      self->queue_.clear();
    }
    self->handler_.OnClosed(self, reason);
  });
}

}  // namespace brook::network
