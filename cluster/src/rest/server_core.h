// ServerCore: the inside of HttpServer. It owns the routes, the Asio machinery (acceptor, I/O
// threads, handler threads) and the registry of open connections, and turns a request header
// into what the connection should do with it (Resolve). HttpSession (http_session.h) runs one
// connection's protocol and calls back into the core.
//
// Threading: routes are added before Start() and read-only afterwards. Resolve/Invoke/ServeStatic
// from any thread. The session registry is guarded by mutex_.
// Life cycle: as HttpServer. Sessions refer to the core by reference: Stop() (run by the
// destructor too) closes them and waits until every one is destroyed.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "brook/cluster/rest/http_server.h"
#include "router.h"
#include "static_files.h"

namespace brook::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

class HttpSession;

struct RouteEntry {
  std::string method;
  std::string pattern;
  Handler handler;       // a plain route, or
  StreamHandler stream;  // an SSE stream (GET)
  RouteOptions options;
};

// What a request header resolves to.
struct Resolution {
  enum class Kind { kRoute, kStream, kStatic, kRefused };
  Kind kind = Kind::kRefused;
  const RouteEntry* route = nullptr;  // kRoute, kStream
  Request request;                    // everything but the body
  std::vector<std::string> segments;  // kStatic: decoded path segments
  Response refusal;                   // kRefused: the error to answer with
  size_t max_body_bytes = 0;
};

class ServerCore {
 public:
  explicit ServerCore(HttpServerOptions options);
  ~ServerCore();

  void AddRoute(RouteEntry entry);
  void AddDirectory(std::string url_prefix, std::filesystem::path dir);
  bool Start(std::string* error);
  void Stop();
  uint16_t port() const { return port_.load(); }
  size_t connection_count() const;

  // For sessions.
  const HttpServerOptions& options() const { return options_; }
  Resolution Resolve(const beast::http::request_header<>& header) const;
  // Runs `work` on a handler thread. Dropped once the core stopped.
  void RunOnHandlerThread(std::function<void()> work);
  // Calls the route's handler; never throws (exceptions become error responses, logged).
  Response Invoke(const RouteEntry& route, const Request& request) const;
  Response ServeStatic(const std::vector<std::string>& segments) const { return files_.Serve(segments); }
  void Unregister(HttpSession* session);

 private:
  void Accept();
  void RunIo();
  bool Authorized(const beast::http::request_header<>& header) const;

  const HttpServerOptions options_;
  std::vector<std::unique_ptr<RouteEntry>> routes_;  // fixed after Start()
  Router router_;                                    // payload: index into routes_
  StaticFiles files_;
  std::atomic<uint16_t> port_{0};

  mutable std::mutex mutex_;
  std::condition_variable sessions_gone_;
  bool started_ = false;  // guarded by mutex_
  bool stopped_ = false;  // guarded by mutex_
  std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions_;  // guarded by mutex_

  // Destroyed before the registry above: destroying pending handlers destroys sessions, which
  // unregister themselves.
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::ip::tcp::acceptor acceptor_;  // on its own strand: accepting races with Stop()
  std::optional<asio::thread_pool> handler_pool_;
  std::mutex join_mutex_;
  std::vector<std::thread> io_threads_;  // guarded by join_mutex_
};

}  // namespace brook::http::detail
