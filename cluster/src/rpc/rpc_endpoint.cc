#include "cluster/src/rpc/rpc_endpoint.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include <boost/asio/strand.hpp>

#include "brook/runtime/check.h"

namespace brook::rpc {

namespace asio = boost::asio;

namespace {

constexpr const char* kLogName = "brook rpc";

std::string Describe(const std::exception_ptr& thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const kj::Exception& e) {
    return e.getDescription().cStr();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace

RpcEndpoint::RpcEndpoint(RpcOptions options, RpcHandler& handler)
    : options_(std::move(options)),
      handler_(handler),
      io_(std::make_shared<asio::io_context>()),
      work_(asio::make_work_guard(*io_)) {
  // spdlog makes its registry on first use; make it before the I/O threads race to.
  spdlog::default_logger_raw();
}

RpcEndpoint::~RpcEndpoint() { Stop(); }

void RpcEndpoint::StartThreads() {
  std::lock_guard lock(join_mutex_);
  if (!threads_.empty()) return;
  for (int i = 0; i < options_.io_threads; ++i) threads_.emplace_back([this] { RunIo(); });
}

void RpcEndpoint::RunIo() {
  for (;;) {
    try {
      io_->run();
      return;
    } catch (const std::exception& e) {
      // A bug in a handler must not take the process down with it; log and keep serving.
      spdlog::error("{}: unexpected exception on an I/O thread: {}", kLogName, e.what());
    }
  }
}

network::FramedConnectionOptions RpcEndpoint::FramedOptions(
    std::chrono::milliseconds timeout) const {
  return {options_.max_frame_bytes, kMaxHelloFrameBytes, timeout, kLogName};
}

void RpcEndpoint::AddAccepted(asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string address = remote.address().to_string() + ":" + std::to_string(remote.port());
  std::shared_ptr<network::FramedConnection> framed;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    if (connections_.size() >= options_.max_connections) {
      spdlog::error("{}: refusing connection from {}: {} connections open", kLogName, address,
                    connections_.size());
      return;
    }
    framed = std::make_shared<network::FramedConnection>(
        std::move(socket), *this, nullptr, FramedOptions(options_.handshake_timeout), address,
        /*accepted=*/true);
    connections_[framed.get()] = Entry{
        std::make_shared<RpcConnection>(io_, framed, address, options_.max_frame_bytes), nullptr};
  }
  framed->StartAccepted();
}

std::shared_ptr<RpcConnection> RpcEndpoint::AddOutbound(
    asio::ip::tcp::resolver::results_type endpoints, const std::string& address,
    std::chrono::milliseconds timeout, const std::shared_ptr<ConnectWaiter>& waiter) {
  auto framed = std::make_shared<network::FramedConnection>(
      asio::ip::tcp::socket(asio::make_strand(*io_)), *this, nullptr, FramedOptions(timeout),
      address, /*accepted=*/false);
  // The connector speaks first; this frame is written as soon as the socket connects.
  framed->Send(EncodeRpcHello({kRpcProtocolVersion, options_.cluster_token, options_.role,
                               options_.name, ""}));
  auto connection = std::make_shared<RpcConnection>(io_, framed, address, options_.max_frame_bytes);
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return nullptr;
    connections_[framed.get()] = Entry{connection, waiter};
  }
  framed->StartConnect(std::move(endpoints));
  return connection;
}

size_t RpcEndpoint::connection_count() const {
  std::lock_guard lock(mutex_);
  return std::count_if(connections_.begin(), connections_.end(),
                       [](const auto& entry) { return entry.second.established; });
}

bool RpcEndpoint::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void RpcEndpoint::Stop() {
  {
    std::lock_guard lock(join_mutex_);
    for (auto& thread : threads_) {
      BROOK_CHECK(thread.get_id() != std::this_thread::get_id(),
                  "RpcServer/RpcClient::Stop() called from one of its own I/O threads");
    }
  }
  std::vector<std::shared_ptr<RpcConnection>> open;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [framed, entry] : connections_) open.push_back(entry.connection);
  }
  // Each close ends in OnClosed on the connection's strand, before the threads run out of work.
  for (auto& connection : open) connection->Close("stopped");
  work_.reset();
  std::lock_guard lock(join_mutex_);
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

RpcEndpoint::Entry RpcEndpoint::Find(const network::FramedConnection* framed) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(framed);
  return it == connections_.end() ? Entry{} : it->second;
}

std::string RpcEndpoint::CheckHello(const RpcHelloMessage& hello) const {
  if (hello.protocol_version != kRpcProtocolVersion) {
    return "rpc protocol versions differ: " + hello.name + " speaks version " +
           std::to_string(hello.protocol_version) + ", " + options_.name + " speaks version " +
           std::to_string(kRpcProtocolVersion);
  }
  if (!network::TokensEqual(hello.cluster_token, options_.cluster_token)) return "wrong cluster token";
  return {};
}

bool RpcEndpoint::OnHandshake(const std::shared_ptr<network::FramedConnection>& framed,
                              std::vector<std::byte>& body, std::string& error) {
  Entry entry = Find(framed.get());
  if (!entry.connection) {
    error = "connection not registered";  // cannot happen: entries leave only in OnClosed
    return false;
  }
  RpcHelloMessage hello;
  const bool decoded = DecodeRpcHello(body, hello, error);
  if (framed->accepted()) {
    if (decoded) error = CheckHello(hello);
    if (!error.empty()) {
      // Tell the connector why (without our token), so its Connect() can say so.
      framed->Send(EncodeRpcHello(
          {kRpcProtocolVersion, "", options_.role, options_.name, error}));
      return false;
    }
    framed->Send(EncodeRpcHello(
        {kRpcProtocolVersion, options_.cluster_token, options_.role, options_.name, ""}));
  } else {
    if (!decoded) return false;
    if (!hello.refusal.empty()) {
      error = (hello.name.empty() ? std::string("the server") : hello.name) +
              " refused the connection: " + hello.refusal;
      return false;
    }
    error = CheckHello(hello);
    if (!error.empty()) return false;
  }
  entry.connection->peer_.role = hello.role;
  entry.connection->peer_.name = hello.name;
  if (!Establish(framed, entry, error)) return false;
  if (entry.waiter) {
    std::lock_guard lock(entry.waiter->mutex);
    entry.waiter->done = true;
    entry.waiter->established = true;
    entry.waiter->done_changed.notify_all();
  }
  return true;
}

bool RpcEndpoint::Establish(const std::shared_ptr<network::FramedConnection>& framed,
                            Entry& entry, std::string& error) {
  {
    std::lock_guard lock(mutex_);
    auto it = connections_.find(framed.get());
    if (it == connections_.end()) {
      error = "connection not registered";
      return false;
    }
    it->second.established = entry.established = true;
  }
  try {
    handler_.OnConnected(entry.connection);
    return true;
  } catch (...) {
    error = "the handler's OnConnected failed: " + Describe(std::current_exception());
    return false;
  }
}

bool RpcEndpoint::OnFrame(const std::shared_ptr<network::FramedConnection>& framed,
                          std::vector<std::byte>& body, std::string& error) {
  Entry entry = Find(framed.get());
  if (!entry.connection) {
    error = "connection not registered";
    return false;
  }
  // FramedConnection guarantees a positive multiple of 8 bytes in an aligned heap buffer.
  const auto words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(body.data()),
                                  body.size() / sizeof(capnp::word));
  try {
    capnp::FlatArrayMessageReader reader(words, ReaderOptionsForFrame(words.size()));
    if (reader.getEnd() != words.end()) {
      error = "malformed message: frame has bytes after its message";
      return false;
    }
    try {
      handler_.OnMessage(entry.connection, reader);
      return true;
    } catch (...) {
      error = "the handler rejected a message: " + Describe(std::current_exception());
      return false;
    }
  } catch (...) {
    error = "malformed message: " + Describe(std::current_exception());
    return false;
  }
}

void RpcEndpoint::OnClosed(const std::shared_ptr<network::FramedConnection>& framed,
                           const std::string& reason) {
  Entry entry;
  {
    std::lock_guard lock(mutex_);
    auto it = connections_.find(framed.get());
    if (it == connections_.end()) return;
    entry = std::move(it->second);
    connections_.erase(it);
  }
  if (entry.waiter) {
    std::lock_guard lock(entry.waiter->mutex);
    if (!entry.waiter->done) {
      entry.waiter->done = true;
      entry.waiter->error = reason;
      entry.waiter->done_changed.notify_all();
    }
  }
  if (!entry.established) return;
  try {
    handler_.OnClosed(entry.connection, reason);
  } catch (...) {
    spdlog::error("{}: the handler's OnClosed for {} failed: {}", kLogName,
                  entry.connection->peer().remote_address, Describe(std::current_exception()));
  }
}

}  // namespace brook::rpc
