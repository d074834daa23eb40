#include "brook/cluster/rpc/rpc_client.h"

#include <boost/asio/ip/tcp.hpp>

#include "cluster/src/rpc/rpc_endpoint.h"

namespace brook::rpc {

namespace asio = boost::asio;

namespace {
// Connect() waits this much beyond its timeout for the connection's own timer to report.
constexpr std::chrono::seconds kConnectGrace{2};
}  // namespace

class RpcClient::Impl {
 public:
  Impl(RpcOptions options, RpcHandler& handler)
      : endpoint_(std::move(options), handler), invalid_(ValidateRpcOptions(endpoint_.options())) {
    if (invalid_.empty()) endpoint_.StartThreads();
  }

  std::shared_ptr<RpcConnection> Connect(const std::string& host, uint16_t port,
                                         std::chrono::milliseconds timeout, std::string* error);
  size_t connection_count() const { return endpoint_.connection_count(); }
  void Stop() { endpoint_.Stop(); }

 private:
  RpcEndpoint endpoint_;
  const std::string invalid_;  // why the options are unusable; empty if they are fine
};

std::shared_ptr<RpcConnection> RpcClient::Impl::Connect(const std::string& host, uint16_t port,
                                                        std::chrono::milliseconds timeout,
                                                        std::string* error) {
  const std::string address = host + ":" + std::to_string(port);
  auto fail = [&](const std::string& why) -> std::shared_ptr<RpcConnection> {
    if (error != nullptr) *error = "cannot connect to " + address + ": " + why;
    return nullptr;
  };
  if (!invalid_.empty()) return fail("invalid rpc options: " + invalid_);
  if (timeout.count() <= 0) return fail("the timeout must be positive");
  if (endpoint_.stopped()) return fail("the rpc client is stopped");
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(endpoint_.io());
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec || endpoints.empty()) return fail("cannot resolve " + host + ": " + ec.message());

  auto waiter = std::make_shared<ConnectWaiter>();
  auto connection = endpoint_.AddOutbound(std::move(endpoints), address, timeout, waiter);
  if (!connection) return fail("the rpc client is stopped");
  std::unique_lock lock(waiter->mutex);
  // The connection's handshake timer closes it after `timeout`; the grace only guards against
  // that report never coming.
  if (!waiter->done_changed.wait_for(lock, timeout + kConnectGrace, [&] { return waiter->done; })) {
    lock.unlock();
    connection->Close("connect timed out");
    return fail("timed out after " + std::to_string(timeout.count()) + " ms");
  }
  if (!waiter->established) return fail(waiter->error);
  return connection;
}

RpcClient::RpcClient(RpcOptions options, RpcHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

RpcClient::~RpcClient() { Stop(); }

std::shared_ptr<RpcConnection> RpcClient::Connect(const std::string& host, uint16_t port,
                                                  std::chrono::milliseconds timeout,
                                                  std::string* error) {
  return impl_->Connect(host, port, timeout, error);
}

size_t RpcClient::connection_count() const { return impl_->connection_count(); }

void RpcClient::Stop() { impl_->Stop(); }

}  // namespace brook::rpc
