#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/clock.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "brook/runtime/check.h"
#include "brook/runtime/network/buffer_pool.h"
#include "brook/runtime/network/framed_connection_internal.h"
#include "brook/runtime/network/wire_internal.h"

namespace brook::network {

namespace asio = boost::asio;

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Requests for channels not opened yet, per environment: bounds what a peer can make us hold.
constexpr size_t kMaxPendingRequests = 1 << 16;
constexpr uint32_t kMaxCreditsPerMessage = 1 << 16;

}  // namespace

// The environment's internals: registry of channels and connections, the Asio machinery.
// Threading: the registries are guarded by mutex_; lock order is mutex_, then a channel's
// locks (buffer lock only tried), then a connection's send lock.
class EnvironmentCore final : public ChannelHost,
                              public FrameHandler,
                              public std::enable_shared_from_this<EnvironmentCore> {
 public:
  explicit EnvironmentCore(const NetworkOptions& options)
      : options_(options),
        settings_{options.buffer_bytes, options.max_frame_bytes - kDataFrameOverhead,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(options.buffer_timeout)
                      .count(),
                  options.initial_credits},
        framed_options_{options.max_frame_bytes, kMaxHandshakeFrameBytes, options.handshake_timeout,
                        "brook network"},
        pool_(options.buffer_bytes, 1024),
        work_(asio::make_work_guard(io_)),
        acceptor_(asio::make_strand(io_)),
        timer_strand_(asio::make_strand(io_)),
        flush_timer_(timer_strand_) {
    // spdlog makes its registry on first use; make it here, before the I/O threads exist, so
    // they never race to create it.
    spdlog::default_logger_raw();
  }

  bool Start(std::string* error);
  void Stop();
  uint16_t port() const { return port_.load(); }
  PeerAddress address() const {
    return {options_.advertised_host.empty() ? options_.bind_host : options_.advertised_host,
            port()};
  }
  size_t connection_count() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }
  std::unique_ptr<OutboundChannel> OpenOutbound(const ChannelId& id);
  std::unique_ptr<InboundChannel> OpenInbound(const ChannelId& id, const PeerAddress& producer);

  // ChannelHost
  void Unregister(OutboundChannel* channel) override {
    std::lock_guard lock(mutex_);
    if (auto it = outbound_.find(channel->id()); it != outbound_.end() && it->second == channel)
      outbound_.erase(it);
  }
  void Unregister(InboundChannel* channel) override {
    std::lock_guard lock(mutex_);
    if (auto it = inbound_.find(channel->id()); it != inbound_.end() && it->second == channel)
      inbound_.erase(it);
  }
  void WatchBufferTimeout(int64_t deadline_ns) override {
    // Only post when the timer would fire too late: under load this is rare.
    if (deadline_ns < flush_due_hint_.load())
      asio::post(timer_strand_, [this, deadline_ns] { ArmFlushTimer(deadline_ns); });
  }
  BufferPool& buffers() override { return pool_; }

  // FrameHandler: frames are decoded here (wire_internal.h), then handled by the two below.
  bool OnHandshake(const std::shared_ptr<FramedConnection>& connection,
                   std::vector<std::byte>& body, std::string& error) override;
  bool OnFrame(const std::shared_ptr<FramedConnection>& connection, std::vector<std::byte>& body,
               std::string& error) override;
  void OnClosed(const std::shared_ptr<FramedConnection>& connection,
                const std::string& reason) override;

 private:
  void Accept();
  void RunIo();
  void ArmFlushTimer(int64_t deadline_ns);
  void OnFlushTimer();
  void FailAllLocked(const std::string& reason);
  bool AcceptHello(const std::shared_ptr<FramedConnection>& connection, const HelloMessage& hello,
                   std::string& error);
  bool OnMessage(const std::shared_ptr<FramedConnection>& connection, WireMessage& message,
                 std::vector<std::byte>& body, std::string& error);
  // The connecting side's first frame is our Hello; the accepting side answers with its Hello
  // only once the peer's checked out (AcceptHello), so a peer without the token never sees it.
  std::shared_ptr<FramedConnection> MakeConnection(asio::ip::tcp::socket socket, std::string peer,
                                                   bool accepted) {
    auto connection = std::make_shared<FramedConnection>(std::move(socket), *this, &pool_,
                                                         framed_options_, std::move(peer),
                                                         accepted);
    if (!accepted) connection->Send(Hello());
    return connection;
  }
  OutgoingFrame Hello() const {
    return EncodeHello(kProtocolVersion, options_.cluster_token, address().ToString());
  }

  const NetworkOptions options_;
  const ChannelSettings settings_;
  const FramedConnectionOptions framed_options_;
  BufferPool pool_;
  // Everything below that holds sockets or handlers goes before io_ is destroyed.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::acceptor acceptor_;  // on its own strand: accepting races with Stop()
  asio::strand<asio::io_context::executor_type> timer_strand_;
  asio::steady_timer flush_timer_;
  int64_t flush_due_ = kNever;  // timer strand only: when flush_timer_ fires
  std::atomic<int64_t> flush_due_hint_{kNever};
  std::atomic<uint16_t> port_{0};
  std::mutex join_mutex_;
  std::vector<std::thread> threads_;  // guarded by join_mutex_

  struct PendingRequest {
    std::shared_ptr<FramedConnection> connection;
    uint32_t credits = 0;
  };
  mutable std::mutex mutex_;
  bool started_ = false;                                      // guarded by mutex_
  bool stopped_ = false;                                      // guarded by mutex_
  std::unordered_map<ChannelId, OutboundChannel*> outbound_;  // guarded by mutex_
  std::unordered_map<ChannelId, InboundChannel*> inbound_;    // guarded by mutex_
  std::unordered_map<ChannelId, PendingRequest> pending_;     // guarded by mutex_
  // Established or connecting connections by the peer's advertised address, for reuse.
  std::unordered_map<std::string, std::shared_ptr<FramedConnection>> peers_;  // guarded by mutex_
  std::unordered_set<std::shared_ptr<FramedConnection>> connections_;        // guarded by mutex_
};

bool EnvironmentCore::Start(std::string* error) {
  auto fail = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  {
    std::lock_guard lock(mutex_);
    if (started_ || stopped_) return fail("network environment started twice");
    started_ = true;
  }
  if (options_.io_threads < 1 || options_.initial_credits < 1 || options_.buffer_bytes < 64 ||
      options_.buffer_bytes + kDataFrameOverhead > options_.max_frame_bytes) {
    return fail("invalid network options: need io_threads >= 1, initial_credits >= 1 and "
                "64 <= buffer_bytes <= max_frame_bytes - " + std::to_string(kDataFrameOverhead));
  }
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(options_.bind_host, std::to_string(options_.port), ec);
  if (ec || endpoints.empty())
    return fail("cannot resolve bind address " + options_.bind_host + ": " + ec.message());
  const auto endpoint = endpoints.begin()->endpoint();
  if (acceptor_.open(endpoint.protocol(), ec) ||
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor_.bind(endpoint, ec) || acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    return fail("cannot listen on " + options_.bind_host + ":" + std::to_string(options_.port) +
                ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  std::lock_guard lock(join_mutex_);
  for (int i = 0; i < options_.io_threads; ++i) threads_.emplace_back([this] { RunIo(); });
  return true;
}

void EnvironmentCore::RunIo() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      // A bug in a handler must not take the process down with it; log and keep serving.
      spdlog::error("brook network: unexpected exception on an I/O thread: {}", e.what());
    }
  }
}

void EnvironmentCore::Stop() {
  std::vector<std::shared_ptr<FramedConnection>> connections;
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      stopped_ = true;
      FailAllLocked("network environment stopped");
      connections.assign(connections_.begin(), connections_.end());
      connections_.clear();
      peers_.clear();
      pending_.clear();
    }
  }
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  asio::post(timer_strand_, [this] { flush_timer_.cancel(); });
  for (auto& connection : connections) connection->Close("network environment stopped", false);
  work_.reset();
  // Every socket and timer is closed: the threads run out of work and return.
  std::lock_guard lock(join_mutex_);
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

void EnvironmentCore::FailAllLocked(const std::string& reason) {
  for (auto& [id, channel] : outbound_) channel->Fail(reason);
  for (auto& [id, channel] : inbound_) channel->Fail(reason);
}

void EnvironmentCore::Accept() {
  acceptor_.async_accept(
      asio::make_strand(io_), [this](const boost::system::error_code& ec,
                                     asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
          spdlog::error("brook network: accept failed: {}", ec.message());
        } else {
          boost::system::error_code ignored;
          auto remote = socket.remote_endpoint(ignored);
          std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
          std::shared_ptr<FramedConnection> connection;
          {
            std::lock_guard lock(mutex_);
            if (stopped_) return;
            if (connections_.size() >= options_.max_connections) {
              spdlog::error("brook network: refusing connection from {}: {} connections open",
                            peer, connections_.size());
            } else {
              connection = MakeConnection(std::move(socket), peer, true);
              connections_.insert(connection);
            }
          }
          if (connection) connection->StartAccepted();
        }
        Accept();
      });
}

std::unique_ptr<OutboundChannel> EnvironmentCore::OpenOutbound(const ChannelId& id) {
  auto channel = std::make_unique<OutboundChannel>(shared_from_this(), id, settings_);
  std::lock_guard lock(mutex_);
  BROOK_CHECK(!outbound_.contains(id), "two outbound network channels with one id");
  outbound_[id] = channel.get();
  if (stopped_) channel->Fail("network environment stopped");
  if (auto it = pending_.find(id); it != pending_.end()) {
    // The consumer asked before the producer was deployed.
    channel->Bind(it->second.connection, it->second.credits);
    pending_.erase(it);
  }
  return channel;
}

std::unique_ptr<InboundChannel> EnvironmentCore::OpenInbound(const ChannelId& id,
                                                             const PeerAddress& producer) {
  auto channel = std::make_unique<InboundChannel>(shared_from_this(), id, settings_);
  const std::string key = producer.ToString();
  std::shared_ptr<FramedConnection> connection;
  bool fresh = false;
  {
    std::lock_guard lock(mutex_);
    BROOK_CHECK(!inbound_.contains(id), "two inbound network channels with one id");
    inbound_[id] = channel.get();
    if (stopped_ || !started_) {
      channel->Fail(stopped_ ? "network environment stopped" : "network environment not started");
      return channel;
    }
    if (auto it = peers_.find(key); it != peers_.end() && !it->second->closed()) {
      connection = it->second;
    } else {
      connection = MakeConnection(asio::ip::tcp::socket(asio::make_strand(io_)), key, false);
      peers_[key] = connection;
      connections_.insert(connection);
      fresh = true;
    }
    channel->Attach(connection);
  }
  connection->Send(EncodeRequestChannel(id, settings_.initial_credits));
  if (fresh) {
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(producer.host, std::to_string(producer.port), ec);
    if (ec) {
      connection->Close("cannot resolve " + key + ": " + ec.message(), true);
    } else {
      connection->StartConnect(std::move(endpoints));
    }
  }
  return channel;
}

bool EnvironmentCore::OnHandshake(const std::shared_ptr<FramedConnection>& connection,
                                  std::vector<std::byte>& body, std::string& error) {
  WireMessage message;
  if (!DecodeFrame(body, message, error)) {
    error = "malformed frame: " + error;
    return false;
  }
  const auto* hello = std::get_if<HelloMessage>(&message);
  if (hello == nullptr) {
    error = "the first frame is not a Hello";
    return false;
  }
  return AcceptHello(connection, *hello, error);
}

bool EnvironmentCore::OnFrame(const std::shared_ptr<FramedConnection>& connection,
                              std::vector<std::byte>& body, std::string& error) {
  WireMessage message;
  if (!DecodeFrame(body, message, error)) {
    error = "malformed frame: " + error;
    return false;
  }
  if (std::holds_alternative<HelloMessage>(message)) {
    error = "a second Hello";
    return false;
  }
  return OnMessage(connection, message, body, error);
}

bool EnvironmentCore::AcceptHello(const std::shared_ptr<FramedConnection>& connection,
                                  const HelloMessage& hello, std::string& error) {
  if (hello.protocol_version != kProtocolVersion) {
    error = "peer speaks protocol version " + std::to_string(hello.protocol_version) +
            ", this process " + std::to_string(kProtocolVersion);
    return false;
  }
  if (!TokensEqual(hello.cluster_token, options_.cluster_token)) {
    error = "wrong cluster token";
    return false;
  }
  // Before anything else can be queued on it: frames reach an accepted connection only once
  // it is registered below or a channel request arrived on it.
  if (connection->accepted()) connection->Send(Hello());
  if (connection->accepted() && !hello.advertised_address.empty()) {
    // Channels this process later opens towards the peer reuse this connection.
    std::lock_guard lock(mutex_);
    if (!stopped_) peers_.try_emplace(hello.advertised_address, connection);
  }
  return true;
}

bool EnvironmentCore::OnMessage(const std::shared_ptr<FramedConnection>& connection,
                                WireMessage& message, std::vector<std::byte>& body,
                                std::string& error) {
  std::lock_guard lock(mutex_);
  if (auto* data = std::get_if<DataBufferMessage>(&message)) {
    auto it = inbound_.find(data->channel);
    if (it == inbound_.end()) return true;  // released meanwhile: the producer hears of it
    if (!it->second->AttachedTo(connection.get())) {
      error = "buffer for channel " + data->channel.ToString() + " on a foreign connection";
      return false;
    }
    return it->second->Deliver(data->sequence, std::move(body), data->payload, error);
  }
  if (auto* credit = std::get_if<CreditMessage>(&message)) {
    if (credit->credits == 0 || credit->credits > kMaxCreditsPerMessage) {
      error = "invalid credit " + std::to_string(credit->credits);
      return false;
    }
    auto it = outbound_.find(credit->channel);
    if (it != outbound_.end() && it->second->BoundTo(connection.get()))
      it->second->AddCredits(credit->credits);
    return true;
  }
  if (auto* request = std::get_if<RequestChannelMessage>(&message)) {
    if (request->initial_credits == 0 || request->initial_credits > kMaxCreditsPerMessage) {
      error = "invalid initial credits " + std::to_string(request->initial_credits);
      return false;
    }
    auto it = outbound_.find(request->channel);
    if (it == outbound_.end()) {
      if (pending_.size() >= kMaxPendingRequests) {
        error = "too many requests for unknown channels";
        return false;
      }
      pending_[request->channel] = {connection, request->initial_credits};
    } else if (!it->second->Bind(connection, request->initial_credits)) {
      spdlog::error("brook network: channel {} requested again by {}; ignored",
                    request->channel.ToString(), connection->peer());
    }
    return true;
  }
  if (auto* close = std::get_if<CloseChannelMessage>(&message)) {
    if (close->from_producer) {
      auto it = inbound_.find(close->channel);
      if (it != inbound_.end() && it->second->AttachedTo(connection.get()))
        it->second->Fail("the producer closed the channel: " + close->reason);
    } else {
      auto it = outbound_.find(close->channel);
      if (it != outbound_.end() && it->second->BoundTo(connection.get()))
        it->second->Release(close->reason);
      auto pending = pending_.find(close->channel);
      if (pending != pending_.end() && pending->second.connection == connection)
        pending_.erase(pending);
    }
    return true;
  }
  error = "unexpected message";
  return false;
}

void EnvironmentCore::OnClosed(const std::shared_ptr<FramedConnection>& connection,
                               const std::string& reason) {
  std::lock_guard lock(mutex_);
  connections_.erase(connection);
  std::erase_if(peers_, [&](const auto& entry) { return entry.second == connection; });
  std::erase_if(pending_, [&](const auto& entry) { return entry.second.connection == connection; });
  const std::string failure = "connection to " + connection->peer() + " lost: " + reason;
  for (auto& [id, channel] : outbound_)
    if (channel->BoundTo(connection.get())) channel->Fail(failure);
  for (auto& [id, channel] : inbound_)
    if (channel->AttachedTo(connection.get())) channel->Fail(failure);
}

void EnvironmentCore::ArmFlushTimer(int64_t deadline_ns) {
  if (deadline_ns >= flush_due_) return;
  flush_due_ = deadline_ns;
  flush_due_hint_.store(deadline_ns);
  flush_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)));
  flush_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) OnFlushTimer();  // aborted: re-armed earlier, or stopping
  });
}

void EnvironmentCore::OnFlushTimer() {
  // Reset first: a producer whose buffer starts now posts its own deadline.
  flush_due_ = kNever;
  flush_due_hint_.store(kNever);
  const int64_t now = SteadyNowNs();
  int64_t next = kNever;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, channel] : outbound_)
      if (auto due = channel->CheckTimeout(now)) next = std::min(next, *due);
  }
  if (next != kNever) ArmFlushTimer(next);
}

}  // namespace brook::network

namespace brook {

NetworkEnvironment::NetworkEnvironment(NetworkOptions options)
    : options_(std::move(options)), core_(std::make_shared<network::EnvironmentCore>(options_)) {}

NetworkEnvironment::~NetworkEnvironment() { Stop(); }

bool NetworkEnvironment::Start(std::string* error) { return core_->Start(error); }
void NetworkEnvironment::Stop() { core_->Stop(); }
uint16_t NetworkEnvironment::port() const { return core_->port(); }
PeerAddress NetworkEnvironment::address() const { return core_->address(); }
size_t NetworkEnvironment::connection_count() const { return core_->connection_count(); }

std::unique_ptr<network::OutboundChannel> NetworkEnvironment::OpenOutbound(const ChannelId& id) {
  return core_->OpenOutbound(id);
}

std::unique_ptr<network::InboundChannel> NetworkEnvironment::OpenInbound(
    const ChannelId& id, const PeerAddress& producer) {
  return core_->OpenInbound(id, producer);
}

}  // namespace brook
