#include "brook/cluster/rpc/rpc_server.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "cluster/src/rpc/rpc_endpoint.h"

namespace brook::rpc {

namespace asio = boost::asio;

class RpcServer::Impl {
 public:
  Impl(RpcOptions options, RpcHandler& handler)
      : endpoint_(std::move(options), handler), acceptor_(asio::make_strand(endpoint_.io())) {}

  bool Start(const std::string& host, uint16_t port, std::string* error);
  uint16_t port() const { return port_.load(); }
  size_t connection_count() const { return endpoint_.connection_count(); }
  void Stop();

 private:
  void Accept();

  RpcEndpoint endpoint_;               // declared first: the acceptor needs its io_context
  asio::ip::tcp::acceptor acceptor_;   // on its own strand: accepting races with Stop()
  std::atomic<uint16_t> port_{0};
  std::mutex start_mutex_;
  bool started_ = false;  // guarded by start_mutex_
};

bool RpcServer::Impl::Start(const std::string& host, uint16_t port, std::string* error) {
  auto fail = [&](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
  };
  if (auto invalid = ValidateRpcOptions(endpoint_.options()); !invalid.empty())
    return fail("invalid rpc options: " + invalid);
  std::lock_guard lock(start_mutex_);
  if (started_) return fail("rpc server started twice");
  if (endpoint_.stopped()) return fail("rpc server stopped");
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(endpoint_.io());
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec || endpoints.empty())
    return fail("cannot resolve bind address " + host + ": " + ec.message());
  const auto endpoint = endpoints.begin()->endpoint();
  if (acceptor_.open(endpoint.protocol(), ec) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor_.bind(endpoint, ec) ||
      acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return fail("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  started_ = true;
  port_ = acceptor_.local_endpoint().port();
  // Before the threads exist, so no strand is needed for this first call.
  Accept();
  endpoint_.StartThreads();
  spdlog::info("brook rpc: {} listening on {}:{}", endpoint_.options().name, host, port_.load());
  return true;
}

void RpcServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(endpoint_.io()),
                         [this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
                           if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
                           if (ec) {
                             spdlog::error("brook rpc: accept failed: {}", ec.message());
                           } else {
                             endpoint_.AddAccepted(std::move(socket));
                           }
                           if (!endpoint_.stopped()) Accept();
                         });
}

void RpcServer::Impl::Stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  endpoint_.Stop();  // runs the close above, closes every connection, joins the threads
  boost::system::error_code ignored;
  acceptor_.close(ignored);  // if the threads never ran; no thread touches it any more
}

RpcServer::RpcServer(RpcOptions options, RpcHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

RpcServer::~RpcServer() { Stop(); }

bool RpcServer::Start(const std::string& host, uint16_t port, std::string* error) {
  return impl_->Start(host, port, error);
}

uint16_t RpcServer::port() const { return impl_->port(); }

size_t RpcServer::connection_count() const { return impl_->connection_count(); }

void RpcServer::Stop() { impl_->Stop(); }

}  // namespace brook::rpc
