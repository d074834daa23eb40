#include "runtime/src/network/connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace brook::network {

namespace {
// One gathered write takes at most this much, so a writer blocked by a slow socket holds
// a bounded number of buffers out of the pool.
constexpr size_t kMaxFramesPerWrite = 64;
constexpr size_t kMaxBytesPerWrite = size_t{2} << 20;
}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, ConnectionHandler& handler, BufferPool& pool,
                       const NetworkOptions& options, OutgoingFrame hello, std::string peer,
                       bool accepted)
    : handler_(handler),
      pool_(pool),
      options_(options),
      peer_(std::move(peer)),
      accepted_(accepted),
      socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()) {
  queue_.push_back(std::move(hello));
}

void Connection::StartAccepted() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->ArmHandshakeTimer();
    self->OnConnected();
  });
}

void Connection::StartConnect(asio::ip::tcp::resolver::results_type endpoints) {
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

void Connection::ArmHandshakeTimer() {
  handshake_timer_.expires_after(options_.handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->hello_received_) return;
    self->Close("no Hello within " + std::to_string(self->options_.handshake_timeout.count()) +
                    " ms",
                true);
  });
}

void Connection::OnConnected() {
  if (closed()) return;
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);  // latency: buffers are batches
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

void Connection::Send(OutgoingFrame frame) {
  bool start = false;
  {
    std::lock_guard lock(send_mutex_);
    if (closed()) return;
    queue_.push_back(std::move(frame));
    if (connected_ && !writing_) start = writing_ = true;
  }
  if (start) asio::post(socket_.get_executor(), [self = shared_from_this()] { self->WriteSome(); });
}

void Connection::WriteSome() {
  {
    std::lock_guard lock(send_mutex_);
    if (queue_.empty() || closed()) {
      writing_ = false;
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

void Connection::OnWritten(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "write failed");
  for (auto& frame : in_flight_)
    if (!frame.payload.empty()) pool_.Release(std::move(frame.payload));
  in_flight_.clear();
  WriteSome();
}

void Connection::ReadHeader() {
  asio::async_read(socket_, asio::buffer(length_),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnHeader(ec);
                   });
}

void Connection::OnHeader(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "read failed");
  const uint32_t length = DecodeFrameLength(length_);
  const size_t limit = hello_received_ ? options_.max_frame_bytes : kMaxHandshakeFrameBytes;
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
  if (body_.capacity() == 0) body_ = pool_.Acquire();
  body_.resize(length);
  asio::async_read(socket_, asio::buffer(body_.data(), length),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnBody(ec);
                   });
}

void Connection::OnBody(const boost::system::error_code& ec) {
  if (ec) return CloseOnError(ec, "read failed");
  WireMessage message;
  std::string error;
  if (!DecodeFrame(body_, message, error)) return Close("malformed frame: " + error, true);
  auto self = shared_from_this();
  if (!hello_received_) {
    const auto* hello = std::get_if<HelloMessage>(&message);
    if (hello == nullptr) return Close("the first frame is not a Hello", true);
    if (!handler_.AcceptHello(self, *hello, error)) return Close("handshake refused: " + error, true);
    hello_received_ = true;
    handshake_timer_.cancel();
  } else if (std::holds_alternative<HelloMessage>(message)) {
    return Close("protocol error: a second Hello", true);
  } else if (!handler_.OnMessage(self, message, body_, error)) {
    return Close("protocol error: " + error, true);
  }
  if (!closed()) ReadHeader();
}

void Connection::CloseOnError(const boost::system::error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted && closed()) return;  // our own Close()
  if (ec == asio::error::eof) return Close("closed by the peer", false);
  Close(std::string(what) + ": " + ec.message(), true);
}

void Connection::Close(std::string reason, bool error) {
  if (closed_.exchange(true)) return;
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason = std::move(reason),
                                      error] {
    if (error) {
      spdlog::error("brook network: closing connection {} ({}): {}", self->peer_,
                    self->accepted_ ? "accepted" : "outbound", reason);
    } else {
      spdlog::debug("brook network: connection {} closed: {}", self->peer_, reason);
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
