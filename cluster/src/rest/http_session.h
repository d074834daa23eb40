// HttpSession: one accepted connection of HttpServer, from the first request to the close.
//
//   read header ──> Resolve ──refused──> write error ──> (keep-alive? read header : close)
//        ^             │
//        │             └─accepted─> [100 Continue] -> read body ──> handler thread ──┐
//        └──────────────────── keep-alive <── write response <───────────────────────┘
//                              (a stream instead writes the SSE header and stays open)
//
// A refusal while the request's body is still unread (401, 404, 413, ...) is followed by a
// lingering close: stop sending, read and drop what the client still sends for a moment, then
// close, so the client reads the error instead of a connection reset.
//
// Threading: everything runs on the connection's strand, except Shutdown() (any thread) and the
// handler, which runs on a handler thread and posts its result back to the strand.
// Life cycle: owned by the shared_ptrs of its pending operations (and its SSE stream's sink);
// gone once the connection is closed and they have all run. Unregisters from the core then.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <array>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server_core.h"

namespace brook::http::detail {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(asio::ip::tcp::socket socket, ServerCore& core);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void Start();
  // Closes the connection (server stopping). Any thread; detaches the SSE stream at once.
  void Shutdown();

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnBodyPart(beast::error_code ec);
  void Dispatch();
  // Answers with `response`; closes afterwards unless `keep_alive`.
  void Write(Response response, bool keep_alive);
  void Refuse(Response response);
  void RefuseMalformed(beast::error_code ec);
  void LingeringClose();
  void Close();

  void StartStream();
  void QueueStreamBytes(std::string bytes);
  void WriteStream();
  void WatchStreamClient();
  void ArmHeartbeat();

  ServerCore& core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::empty_body>> header_parser_;
  std::optional<beast::http::request_parser<beast::http::string_body>> body_parser_;
  Resolution current_;      // the request being read or handled
  bool keep_alive_ = false;  // of the current request
  bool closed_ = false;

  // Server-sent events, once this connection became a stream.
  std::mutex stream_mutex_;                  // Shutdown() reads stream_handle_ off the strand
  std::shared_ptr<SseStream> stream_handle_;  // guarded by stream_mutex_
  bool streaming_ = false;                   // the SSE response header is queued
  bool stream_writing_ = false;
  bool stream_closing_ = false;  // close once the queue is written
  std::deque<std::string> stream_queue_;
  size_t stream_queued_bytes_ = 0;
  asio::steady_timer heartbeat_;
  std::array<char, 1024> discard_{};  // what a stream client or a refused request still sends
  size_t discarded_bytes_ = 0;
};

}  // namespace brook::http::detail
