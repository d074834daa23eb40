// SseStream: the server's end of one server-sent-events connection (text/event-stream), given to
// a StreamHandler (http_server.h). The handler, or anything it hands the stream to, calls
// Send() whenever it has an event; the server writes the events in order, writes a heartbeat
// comment line while idle (so proxies keep the connection and dead clients are found), and
// closes the stream when the client goes away, a write fails, the client falls too far behind
// (HttpServerOptions::sse_max_pending_bytes) or the server stops.
//
// Threading: all methods from any thread.
// Life cycle: open -> closed, once and for good. A closed stream drops what it is sent, so an
// owner that keeps streams (a subscriber list, say) drops those whose Send() returns false or
// whose closed() is true. The object may outlive the server.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace brook::http {

namespace detail {
class SseAccess;
}

class SseStream {
 public:
  ~SseStream();
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;

  // Queues one event: "event: <event>" (left out if empty; clients then see a "message") and a
  // "data: " line per line of `data`. False, and nothing queued, if the stream is closed or
  // `event` contains a line break.
  bool Send(std::string_view event, std::string_view data);
  bool closed() const;
  // Ends the stream from the server's side; the connection closes once queued events are written.
  void Close();

 private:
  friend class detail::SseAccess;
  // What the stream writes to: set by the connection while it is open. `write(bytes)` queues
  // wire bytes; `close()` ends the connection after queued bytes.
  struct Sink {
    std::function<void(std::string)> write;
    std::function<void()> close;
  };
  SseStream() = default;

  mutable std::mutex mutex_;
  bool closed_ = false;  // guarded by mutex_
  Sink sink_;            // guarded by mutex_; empty once closed
};

// Formats one event as it goes on the wire (used by SseStream::Send; exposed for tests).
std::string FormatSseEvent(std::string_view event, std::string_view data);

}  // namespace brook::http
