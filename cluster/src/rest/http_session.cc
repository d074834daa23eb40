#include "http_session.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "sse_access.h"

namespace brook::http::detail {
namespace {

namespace http = beast::http;

constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerMaxBytes = 4 << 20;

bool BodyPending(const boost::optional<uint64_t>& length, bool chunked) {
  return chunked || (length && *length > 0);
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, ServerCore& core)
    : core_(core), stream_(std::move(socket)), heartbeat_(stream_.get_executor()) {}

HttpSession::~HttpSession() { core_.Unregister(this); }

void HttpSession::Start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
}

void HttpSession::Shutdown() {
  {
    std::lock_guard lock(stream_mutex_);
    if (stream_handle_) SseAccess::Detach(*stream_handle_);
  }
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

void HttpSession::ReadHeader() {
  if (closed_) return;
  current_ = {};
  body_parser_.reset();
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<uint32_t>(core_.options().max_header_bytes));
  header_parser_->body_limit(boost::none);  // Resolve checks the route's limit
  // A whole-request deadline for the header, so a client trickling bytes cannot hold it.
  stream_.expires_after(core_.options().idle_timeout);
  http::async_read_header(stream_, buffer_, *header_parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            self->OnHeader(ec);
                          });
}

void HttpSession::OnHeader(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    if (ec == http::error::header_limit) {
      Refuse(Response::Error(431, "Request header too large"));
    } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
               ec != http::error::partial_message) {
      RefuseMalformed(ec);
    } else {
      Close();  // the client left, or went idle past the timeout
    }
    return;
  }
  const auto& header = header_parser_->get();
  keep_alive_ = header.keep_alive();
  current_ = core_.Resolve(header);
  const bool chunked = header_parser_->chunked();
  const auto length = header_parser_->content_length();
  if (current_.kind == Resolution::Kind::kRefused) {
    if (BodyPending(length, chunked)) {
      Refuse(std::move(current_.refusal));
    } else {
      Write(std::move(current_.refusal), keep_alive_);
    }
    return;
  }
  const auto expect = header[http::field::expect];
  if (!expect.empty()) {
    if (!beast::iequals(expect, "100-continue")) {
      Refuse(Response::Error(417, "Unsupported Expect: " + std::string(expect)));
      return;
    }
    // Only now that the request is accepted does the client send its body.
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(core_.options().idle_timeout);
    asio::async_write(stream_, asio::buffer(kContinue),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadBody();
                      });
    return;
  }
  ReadBody();
}

void HttpSession::ReadBody() {
  if (closed_) return;
  body_parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  body_parser_->body_limit(current_.max_body_bytes);
  OnBodyPart({});
}

void HttpSession::OnBodyPart(beast::error_code ec) {
  if (closed_) return;
  if (ec == http::error::body_limit) {
    Refuse(Response::Error(413, "Request body larger than " +
                                    std::to_string(current_.max_body_bytes) + " bytes"));
    return;
  }
  if (ec && IsHttpParseError(ec) && ec != http::error::partial_message &&
      ec != http::error::end_of_stream) {
    RefuseMalformed(ec);
    return;
  }
  if (ec) return Close();
  if (body_parser_->is_done()) return Dispatch();
  // The body is read piece by piece, each with the idle timeout: a large upload may take long,
  // a stalled one may not.
  stream_.expires_after(core_.options().idle_timeout);
  http::async_read_some(stream_, buffer_, *body_parser_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->OnBodyPart(ec);
                        });
}

void HttpSession::Dispatch() {
  stream_.expires_never();  // the handler may take its time; the write sets a deadline again
  current_.request.body = body_parser_->release().body();
  body_parser_.reset();
  auto self = shared_from_this();
  auto post_response = [self](Response response) {
    asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->Write(std::move(response), self->keep_alive_);
    });
  };
  switch (current_.kind) {
    case Resolution::Kind::kRoute:
      core_.RunOnHandlerThread([this, post_response, route = current_.route,
                                request = std::move(current_.request)] {
        post_response(core_.Invoke(*route, request));
      });
      return;
    case Resolution::Kind::kStatic:
      core_.RunOnHandlerThread([this, post_response, segments = current_.segments] {
        post_response(core_.ServeStatic(segments));
      });
      return;
    case Resolution::Kind::kStream: {
      auto executor = stream_.get_executor();
      auto stream = SseAccess::Open(
          [self, executor](std::string bytes) {
            asio::post(executor, [self, bytes = std::move(bytes)]() mutable {
              self->QueueStreamBytes(std::move(bytes));
            });
          },
          [self, executor] {
            asio::post(executor, [self] {
              // Before StartStream() this only marks the stream: the client still gets the
              // header and what was sent, then the close.
              self->stream_closing_ = true;
              if (self->streaming_ && !self->stream_writing_) self->WriteStream();
            });
          });
      {
        std::lock_guard lock(stream_mutex_);
        stream_handle_ = stream;
      }
      core_.RunOnHandlerThread([this, self, stream, route = current_.route,
                                request = std::move(current_.request)] {
        std::optional<Response> refusal;
        try {
          route->stream(request, stream);
        } catch (const HttpError& e) {
          refusal = Response::Error(e.status(), e.what());
        } catch (const std::exception& e) {
          spdlog::error("brook rest: stream {} failed: {}", request.path, e.what());
          refusal = Response::Error(500, std::string("Internal server error: ") + e.what());
        } catch (...) {
          refusal = Response::Error(500, "Internal server error");
        }
        if (refusal) SseAccess::Detach(*stream);
        asio::post(stream_.get_executor(), [self, refusal = std::move(refusal)]() mutable {
          if (refusal) return self->Write(std::move(*refusal), self->keep_alive_);
          self->StartStream();
        });
      });
      return;
    }
    case Resolution::Kind::kRefused:
      break;
  }
}

void HttpSession::Write(Response response, bool keep_alive) {
  if (closed_) return;
  if (response.status < 100 || response.status > 599) {
    spdlog::error("brook rest: handler answered with invalid status {}", response.status);
    response = Response::Error(500, "Internal server error: invalid status");
  }
  auto message = std::make_shared<http::response<http::string_body>>();
  message->version(11);
  message->result(static_cast<unsigned>(response.status));
  message->set(http::field::server, "brook");
  for (const auto& [name, value] : response.headers) {
    // A line break would let a header value start a header of its own.
    if (name.empty() || name.find_first_of("\r\n: ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      spdlog::error("brook rest: dropped invalid response header '{}'", name);
      continue;
    }
    message->set(name, value);
  }
  if (!response.body.empty() || response.status != 204)
    message->set(http::field::content_type, response.content_type);
  message->body() = std::move(response.body);
  message->keep_alive(keep_alive);
  message->prepare_payload();
  stream_.expires_after(core_.options().idle_timeout);
  http::async_write(stream_, *message,
                    [self = shared_from_this(), message, keep_alive](beast::error_code ec, size_t) {
                      if (ec) return self->Close();
                      if (!keep_alive) return self->LingeringClose();
                      self->ReadHeader();
                    });
}

void HttpSession::Refuse(Response response) { Write(std::move(response), false); }

void HttpSession::RefuseMalformed(beast::error_code ec) {
  Refuse(Response::Error(400, "Malformed HTTP request: " + ec.message()));
}

void HttpSession::LingeringClose() {
  if (closed_) return;
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  discarded_bytes_ = 0;
  stream_.expires_after(kLingerTime);
  struct Drain {
    std::shared_ptr<HttpSession> self;
    void operator()(beast::error_code ec, size_t bytes) {
      self->discarded_bytes_ += bytes;
      if (ec || self->closed_ || self->discarded_bytes_ > kLingerMaxBytes) return self->Close();
      self->stream_.async_read_some(asio::buffer(self->discard_), std::move(*this));
    }
  };
  stream_.async_read_some(asio::buffer(discard_), Drain{shared_from_this()});
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(stream_mutex_);
    if (stream_handle_) SseAccess::Detach(*stream_handle_);
    stream_handle_.reset();  // its sink referred to this session
  }
  heartbeat_.cancel();
  stream_queue_.clear();
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
}

// --- server-sent events ---

void HttpSession::StartStream() {
  if (closed_) return;
  stream_.expires_never();  // a stream lives as long as its client
  streaming_ = true;
  stream_queue_.push_front(
      "HTTP/1.1 200 OK\r\n"
      "Server: brook\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "Connection: keep-alive\r\n"
      "X-Accel-Buffering: no\r\n"
      "\r\n");
  stream_queued_bytes_ += stream_queue_.front().size();
  WriteStream();
  WatchStreamClient();
  ArmHeartbeat();
}

void HttpSession::QueueStreamBytes(std::string bytes) {
  if (closed_ || stream_closing_) return;
  stream_queued_bytes_ += bytes.size();
  if (stream_queued_bytes_ > core_.options().sse_max_pending_bytes) {
    spdlog::warn("brook rest: closing an event stream: its client is more than {} bytes behind",
                 core_.options().sse_max_pending_bytes);
    return Close();
  }
  stream_queue_.push_back(std::move(bytes));
  if (streaming_ && !stream_writing_) WriteStream();
}

void HttpSession::WriteStream() {
  if (closed_) return;
  if (stream_queue_.empty()) {
    if (stream_closing_) Close();
    return;
  }
  stream_writing_ = true;
  asio::async_write(stream_.socket(), asio::buffer(stream_queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->stream_writing_ = false;
                      if (ec || self->closed_) return self->Close();
                      self->stream_queued_bytes_ -= self->stream_queue_.front().size();
                      self->stream_queue_.pop_front();
                      self->WriteStream();
                    });
}

void HttpSession::WatchStreamClient() {
  // A stream client sends nothing; the read ends when it goes away.
  stream_.socket().async_read_some(asio::buffer(discard_),
                                   [self = shared_from_this()](beast::error_code ec, size_t) {
                                     if (ec || self->closed_) return self->Close();
                                     self->WatchStreamClient();
                                   });
}

void HttpSession::ArmHeartbeat() {
  heartbeat_.expires_after(core_.options().sse_heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_) return;
    // A comment line: ignored by EventSource, but a write that finds a dead peer.
    if (self->stream_queue_.empty()) self->QueueStreamBytes(": heartbeat\n\n");
    self->ArmHeartbeat();
  });
}

}  // namespace brook::http::detail
