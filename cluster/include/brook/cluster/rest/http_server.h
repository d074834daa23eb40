// HttpServer: the HTTP/1.1 server of the job manager's REST API, web status page and metrics,
// and of the task managers' /metrics (on Boost.Beast, kept out of this header).
//
// What it does for every route, so that route code only computes answers:
//   - routes by method and pattern ("/jobs/{id}/vertices/{vid}"); a literal segment wins over a
//     capture ("/jobs/overview" before "/jobs/{id}"); unknown path -> 404, known path with
//     another method -> 405 with an Allow header; all error bodies are {"errors":["..."]};
//   - decodes the path and the query string (percent-encoding, '+' in queries); malformed
//     requests -> 400 and the connection closes; oversized headers -> 431;
//   - the token: with a non-empty HttpServerOptions::token, mutating routes (every method but
//     GET, and GET routes marked mutating) need "Authorization: Bearer <token>", and so does
//     everything when open_reads is false; else 401 with WWW-Authenticate;
//   - a body over the route's max_body_bytes -> 413 as soon as Content-Length shows it (or the
//     chunked body passes the limit), without reading the rest; the connection then closes;
//   - "Expect: 100-continue" is answered only once the request is accepted;
//   - handler exceptions: HttpError -> its status; anything else -> 500, logged, the server
//     keeps serving;
//   - keep-alive, an idle timeout per connection, a cap on open connections;
//   - server-sent-event streams (Stream) and static files (ServeDirectory) for the web UI.
//
// Precedence: routes and streams, then static directories (longest prefix first). HEAD and
// OPTIONS are not served unless routed (405 otherwise); CORS headers are the routes' business.
//
// Threading: Route/Stream/ServeDirectory before Start(); Start/Stop/port from any thread but not
// from a handler. Handlers run on `handler_threads` threads of the server, so a slow handler
// does not hold up I/O; I/O runs on `io_threads` threads.
// Life cycle: constructed -> routes added -> Start() -> Stop() (idempotent, also by the
// destructor). Stop() closes every connection and SSE stream and waits for running handlers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "brook/cluster/rest/http_message.h"
#include "brook/cluster/rest/sse_stream.h"

namespace brook::http {

namespace detail {
class ServerCore;
}

struct RouteOptions {
  // Larger bodies are refused with 413 before they are read.
  size_t max_body_bytes = size_t{1} << 20;
  // A GET route that still needs the token (non-GET routes always do when a token is set).
  bool mutating = false;
};

struct HttpServerOptions {
  std::string bind_host = "127.0.0.1";  // "0.0.0.0" for all interfaces
  uint16_t port = 0;                    // 0: an ephemeral port, see HttpServer::port()
  std::string token;                    // empty: no authentication at all
  bool open_reads = true;               // GET routes without the token
  int io_threads = 1;
  int handler_threads = 2;
  // A connection with no complete request for this long is closed (not SSE streams).
  std::chrono::milliseconds idle_timeout{30'000};
  size_t max_connections = 1024;         // further connections are closed at once
  size_t max_header_bytes = 16 * 1024;   // request line and headers; more -> 431
  std::chrono::milliseconds sse_heartbeat{15'000};
  size_t sse_max_pending_bytes = 4 << 20;  // a client further behind is disconnected
};

// Starts a server-sent-event stream on GET. Called on a handler thread before the response
// header is written: throwing HttpError refuses the stream with that status (an unknown job,
// say). Otherwise the client gets 200 text/event-stream, then whatever is sent on `stream`
// (also events sent during this call), until the stream closes (sse_stream.h).
using StreamHandler = std::function<void(const Request&, std::shared_ptr<SseStream> stream)>;

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route. `pattern` is an absolute path whose segments are literals or "{name}"
  // captures, seen by the handler in Request::params. REQUIRES: before Start(); a valid pattern
  // and no route with the same method and pattern (else BROOK_CHECK fails: a programming error).
  void Route(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  // Adds a server-sent-event stream served on GET `pattern` (captures as for Route).
  void Stream(std::string pattern, StreamHandler handler, RouteOptions options = {});
  // Serves the files under `dir` at `url_prefix` ("/" or "/static"): GET only; a directory
  // serves its index.html; content type by extension; "..", encoded slashes and symlinks
  // leading outside `dir` are refused (404). REQUIRES: before Start().
  void ServeDirectory(std::string url_prefix, std::filesystem::path dir);

  // Binds and starts the threads. False, with the reason in *error, if the options are invalid
  // or the address cannot be bound. At most once.
  [[nodiscard]] bool Start(std::string* error = nullptr);
  void Stop();

  uint16_t port() const;  // the bound port, after Start()
  size_t connection_count() const;  // open connections, SSE streams included (tests, metrics)

 private:
  std::unique_ptr<detail::ServerCore> core_;
};

}  // namespace brook::http
