// What RpcServer and RpcClient share: the I/O threads, the registry of connections, and the
// Hello exchange on top of network::FramedConnection (frames in, Cap'n Proto messages out to the
// RpcHandler).
//
// Handshake: the connecting side's Hello is queued before the socket connects, so it goes first.
// The accepting side checks version and token and answers with its own Hello only if both match,
// else with a refusal Hello (no token) that the connector reports as the reason it failed.
//
// Threading: Add*, Stop, connection_count from any thread but the I/O threads; the FrameHandler
// callbacks on each connection's strand. The registry is guarded by mutex_.
// Life cycle: StartThreads() once; Stop() (idempotent) closes every connection, waits for their
// OnClosed and joins the threads. The owner's acceptor, if any, must be closed by then.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "brook/cluster/rpc/rpc_connection.h"
#include "brook/cluster/rpc/rpc_options.h"
#include "brook/runtime/network/framed_connection_internal.h"
#include "cluster/src/rpc/rpc_wire.h"

namespace brook::rpc {

// Connect() waits on this until the Hello exchange succeeded or the connection closed.
struct ConnectWaiter {
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;        // guarded by mutex
  bool established = false;  // guarded by mutex
  std::string error;         // guarded by mutex
};

class RpcEndpoint final : public network::FrameHandler {
 public:
  RpcEndpoint(RpcOptions options, RpcHandler& handler);
  ~RpcEndpoint() override;
  RpcEndpoint(const RpcEndpoint&) = delete;
  RpcEndpoint& operator=(const RpcEndpoint&) = delete;

  const RpcOptions& options() const { return options_; }
  boost::asio::io_context& io() { return *io_; }

  void StartThreads();
  // Registers and starts an accepted socket; closes it at once when stopped or full.
  void AddAccepted(boost::asio::ip::tcp::socket socket);
  // Registers and starts an outbound connection to `endpoints` (named `address`) that signals
  // `waiter` when the handshake succeeded or failed; nullptr when stopped.
  std::shared_ptr<RpcConnection> AddOutbound(
      boost::asio::ip::tcp::resolver::results_type endpoints, const std::string& address,
      std::chrono::milliseconds timeout, const std::shared_ptr<ConnectWaiter>& waiter);
  size_t connection_count() const;
  bool stopped() const;
  void Stop();

  // network::FrameHandler
  bool OnHandshake(const std::shared_ptr<network::FramedConnection>& framed,
                   std::vector<std::byte>& body, std::string& error) override;
  bool OnFrame(const std::shared_ptr<network::FramedConnection>& framed,
               std::vector<std::byte>& body, std::string& error) override;
  void OnClosed(const std::shared_ptr<network::FramedConnection>& framed,
                const std::string& reason) override;

 private:
  struct Entry {
    std::shared_ptr<RpcConnection> connection;
    std::shared_ptr<ConnectWaiter> waiter;  // outbound only
    bool established = false;              // OnConnected ran (or is running)
  };

  void RunIo();
  network::FramedConnectionOptions FramedOptions(std::chrono::milliseconds timeout) const;
  // The entry of `framed`, copied out under the lock; empty if unknown.
  Entry Find(const network::FramedConnection* framed) const;
  // Checks a Hello against ours; empty if acceptable, else the reason.
  std::string CheckHello(const RpcHelloMessage& hello) const;
  // Marks established and calls OnConnected; false (with `error`) if it threw.
  bool Establish(const std::shared_ptr<network::FramedConnection>& framed, Entry& entry,
                 std::string& error);

  const RpcOptions options_;
  RpcHandler& handler_;
  // Shared with every RpcConnection, whose socket needs it (rpc_connection.h).
  const std::shared_ptr<boost::asio::io_context> io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;

  std::mutex join_mutex_;
  std::vector<std::thread> threads_;  // guarded by join_mutex_

  mutable std::mutex mutex_;
  bool stopped_ = false;  // guarded by mutex_
  std::unordered_map<const network::FramedConnection*, Entry> connections_;  // guarded by mutex_
};

}  // namespace brook::rpc
