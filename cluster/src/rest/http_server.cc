#include "brook/cluster/rest/http_server.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include "brook/cluster/rest/url.h"
#include "brook/runtime/check.h"
#include "http_session.h"
#include "server_core.h"

namespace brook::http {
namespace detail {
namespace {

namespace http = beast::http;

// How long Stop() lets closed connections finish their last callbacks.
constexpr std::chrono::seconds kStopGrace{5};
// Body limit of requests that no route sets one for (static files, refusals).
constexpr size_t kDefaultBodyLimit = 64 * 1024;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Response Unauthorized() {
  Response response = Response::Error(401, "Missing or invalid token: send Authorization: Bearer <token>");
  response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

}  // namespace

ServerCore::ServerCore(HttpServerOptions options)
    : options_(std::move(options)), acceptor_(asio::make_strand(io_)) {
  // spdlog makes its registry on first use; make it now, before threads race to.
  spdlog::default_logger_raw();
}

ServerCore::~ServerCore() { Stop(); }

void ServerCore::AddRoute(RouteEntry entry) {
  std::lock_guard lock(mutex_);
  BROOK_CHECK(!started_, "HttpServer: routes are added before Start()");
  std::string error;
  bool added = router_.Add(entry.method, entry.pattern, routes_.size(), &error);
  BROOK_CHECK(added, error.c_str());
  routes_.push_back(std::make_unique<RouteEntry>(std::move(entry)));
}

void ServerCore::AddDirectory(std::string url_prefix, std::filesystem::path dir) {
  std::lock_guard lock(mutex_);
  BROOK_CHECK(!started_, "HttpServer: directories are added before Start()");
  files_.Mount(url_prefix, std::move(dir));
}

bool ServerCore::Start(std::string* error) {
  auto fail = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  {
    std::lock_guard lock(mutex_);
    if (started_ || stopped_) return fail("HTTP server started twice");
    started_ = true;
  }
  if (options_.io_threads < 1 || options_.handler_threads < 1 || options_.max_connections < 1 ||
      options_.max_header_bytes < 1024 || options_.idle_timeout.count() <= 0 ||
      options_.sse_heartbeat.count() <= 0) {
    return fail("invalid HTTP server options: need io_threads, handler_threads and "
                "max_connections >= 1, max_header_bytes >= 1024, positive timeouts");
  }
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(options_.bind_host, std::to_string(options_.port), ec);
  if (ec || endpoints.empty())
    return fail("cannot resolve HTTP bind address " + options_.bind_host + ": " + ec.message());
  const auto endpoint = endpoints.begin()->endpoint();
  if (acceptor_.open(endpoint.protocol(), ec) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor_.bind(endpoint, ec) ||
      acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    return fail("cannot listen on " + options_.bind_host + ":" + std::to_string(options_.port) +
                ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  work_.emplace(asio::make_work_guard(io_));
  handler_pool_.emplace(static_cast<size_t>(options_.handler_threads));
  Accept();
  std::lock_guard lock(join_mutex_);
  for (int i = 0; i < options_.io_threads; ++i) io_threads_.emplace_back([this] { RunIo(); });
  return true;
}

void ServerCore::RunIo() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      // A bug in a callback must not take the process down with it; log and keep serving.
      spdlog::error("brook rest: unexpected exception on an I/O thread: {}", e.what());
    }
  }
}

void ServerCore::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec,
                                                        asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      spdlog::error("brook rest: accept failed: {}", ec.message());
    } else {
      std::shared_ptr<HttpSession> session;
      {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
        if (sessions_.size() >= options_.max_connections) {
          spdlog::warn("brook rest: refusing a connection: {} open", sessions_.size());
        } else {
          session = std::make_shared<HttpSession>(std::move(socket), *this);
          sessions_.emplace(session.get(), session);
        }
      }
      if (session) session->Start();
    }
    Accept();
  });
}

void ServerCore::Stop() {
  std::vector<std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopped_) {
      stopped_ = true;
      return;
    }
    stopped_ = true;
    for (auto& [pointer, weak] : sessions_)
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  for (auto& session : sessions) session->Shutdown();
  sessions.clear();
  // Running handlers finish; their answers find their connections closed.
  handler_pool_->join();
  work_.reset();
  {
    std::unique_lock lock(mutex_);
    if (!sessions_gone_.wait_for(lock, kStopGrace, [this] { return sessions_.empty(); })) {
      spdlog::error("brook rest: {} connections still busy {} s after Stop(); abandoning them",
                    sessions_.size(), kStopGrace.count());
      io_.stop();
    }
  }
  std::lock_guard lock(join_mutex_);
  for (auto& thread : io_threads_)
    if (thread.joinable()) thread.join();
}

size_t ServerCore::connection_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void ServerCore::Unregister(HttpSession* session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
  if (sessions_.empty()) sessions_gone_.notify_all();
}

void ServerCore::RunOnHandlerThread(std::function<void()> work) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
  }
  asio::post(*handler_pool_, std::move(work));
}

bool ServerCore::Authorized(const http::request_header<>& header) const {
  auto value = header[http::field::authorization];
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() || !beast::iequals(value.substr(0, kScheme.size()), kScheme))
    return false;
  std::string_view token(value.data() + kScheme.size(), value.size() - kScheme.size());
  return ConstantTimeEquals(token, options_.token);
}

Resolution ServerCore::Resolve(const http::request_header<>& header) const {
  Resolution out;
  auto refuse = [&](Response response) {
    out.kind = Resolution::Kind::kRefused;
    out.refusal = std::move(response);
    return std::move(out);
  };
  Request& request = out.request;
  request.method = std::string(header.method_string());
  request.target = std::string(header.target());
  for (const auto& field : header) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = request.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  request.content_type = request.Header("content-type");

  if (request.target.empty() || request.target.front() != '/')
    return refuse(Response::Error(400, "Request target must be an absolute path"));
  const size_t question = request.target.find('?');
  const std::string_view raw_path = std::string_view(request.target).substr(0, question);
  auto path = PercentDecode(raw_path);
  if (!path || !SplitPath(raw_path, &out.segments))
    return refuse(Response::Error(400, "Malformed percent-encoding in the path"));
  request.path = std::move(*path);
  if (question != std::string::npos) {
    auto query = ParseQuery(std::string_view(request.target).substr(question + 1));
    if (!query) return refuse(Response::Error(400, "Malformed query string"));
    request.query = std::move(*query);
  }

  const bool has_token = !options_.token.empty();
  if (has_token && !options_.open_reads && !Authorized(header)) return refuse(Unauthorized());

  auto match = router_.Find(request.method, out.segments);
  if (match.outcome == Router::Outcome::kMethodNotAllowed) {
    Response response = Response::Error(405, "Method " + request.method + " not allowed on " +
                                                 request.path);
    response.headers.emplace_back("Allow", match.allow);
    return refuse(std::move(response));
  }
  if (match.outcome == Router::Outcome::kFound) {
    out.route = routes_[match.payload].get();
    request.params = std::move(match.params);
    out.kind = out.route->stream ? Resolution::Kind::kStream : Resolution::Kind::kRoute;
    out.max_body_bytes = out.route->options.max_body_bytes;
    const bool mutating = out.route->options.mutating || request.method != "GET";
    if (has_token && mutating && !Authorized(header)) return refuse(Unauthorized());
  } else if (files_.Covers(out.segments)) {
    if (request.method != "GET") {
      Response response = Response::Error(405, "Method " + request.method + " not allowed on " +
                                                   request.path);
      response.headers.emplace_back("Allow", "GET");
      return refuse(std::move(response));
    }
    out.kind = Resolution::Kind::kStatic;
    out.max_body_bytes = kDefaultBodyLimit;
  } else {
    return refuse(Response::Error(404, "Not found: " + request.path));
  }

  if (auto length = header.find(http::field::content_length); length != header.end()) {
    // The parser has validated the number; compare before reading a byte of the body.
    uint64_t bytes = std::stoull(std::string(length->value()));
    if (bytes > out.max_body_bytes)
      return refuse(Response::Error(413, "Request body of " + std::to_string(bytes) +
                                             " bytes is larger than the limit of " +
                                             std::to_string(out.max_body_bytes)));
  }
  return out;
}

Response ServerCore::Invoke(const RouteEntry& route, const Request& request) const {
  try {
    return route.handler(request);
  } catch (const HttpError& e) {
    return Response::Error(e.status(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("brook rest: {} {} failed: {}", request.method, request.path, e.what());
    return Response::Error(500, std::string("Internal server error: ") + e.what());
  } catch (...) {
    spdlog::error("brook rest: {} {} failed with a non-standard exception", request.method,
                  request.path);
    return Response::Error(500, "Internal server error");
  }
}

}  // namespace detail

HttpServer::HttpServer(HttpServerOptions options)
    : core_(std::make_unique<detail::ServerCore>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string pattern, Handler handler,
                       RouteOptions options) {
  BROOK_CHECK(handler, "HttpServer::Route needs a handler");
  core_->AddRoute({std::move(method), std::move(pattern), std::move(handler), {}, options});
}

void HttpServer::Stream(std::string pattern, StreamHandler handler, RouteOptions options) {
  BROOK_CHECK(handler, "HttpServer::Stream needs a handler");
  core_->AddRoute({"GET", std::move(pattern), {}, std::move(handler), options});
}

void HttpServer::ServeDirectory(std::string url_prefix, std::filesystem::path dir) {
  core_->AddDirectory(std::move(url_prefix), std::move(dir));
}

bool HttpServer::Start(std::string* error) { return core_->Start(error); }
void HttpServer::Stop() { core_->Stop(); }
uint16_t HttpServer::port() const { return core_->port(); }
size_t HttpServer::connection_count() const { return core_->connection_count(); }

}  // namespace brook::http
