// NetworkEnvironment: the data plane of one process (Flink's NettyShuffleEnvironment). It
// listens for data connections, connects to peers, and multiplexes every network channel
// between two processes over one TCP connection, with credit-based flow control per channel
// (network_channel_core.h). Record types never reach this class: NetworkChannelSender<T> and
// NetworkChannelReceiver<T> (network_channel.h) serialize on the task threads.
//
// Channel set-up follows Flink's partition requests: the consumer side opens an inbound channel
// naming the producer's address; the environment connects there (or reuses the connection) and
// sends RequestChannel with the initial credits. The producer side opens an outbound channel by
// id alone; a request that arrives before it exists waits for it. Producers therefore need not
// know where their consumers run, and tasks may be deployed in any order.
//
// Security: both ends open with a Hello carrying the protocol version and the cluster token and
// close the connection, with a logged error, if the other's does not match. A malformed or
// oversized frame closes its connection with a logged error; other connections keep working.
//
// Threading: all methods from any thread. The environment runs `io_threads` threads of its own;
// channel endpoints never block them (they only try the producer's lock, see OutboundChannel).
// Life cycle: constructed -> Start() -> Stop() (idempotent, also by the destructor). Stop()
// fails every open channel ("network environment stopped") and joins the threads. Channel
// endpoints may outlive Stop() and the environment object: they keep its internals alive.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "brook/runtime/network/channel_id.h"
#include "brook/runtime/network/network_channel_core.h"

namespace brook {

struct NetworkOptions {
  std::string bind_host = "127.0.0.1";  // "0.0.0.0" for all interfaces
  uint16_t port = 0;                    // 0: an ephemeral port, see NetworkEnvironment::port()
  // The host peers reach this process at; empty: bind_host. Sent in Hello, so a peer that this
  // process connected to reuses the connection instead of opening a second one.
  std::string advertised_host;
  std::string cluster_token;  // both ends must have the same
  int io_threads = 1;
  // Network buffer size: a buffer is sent once it holds this many bytes (or when an event,
  // Flush() or the buffer timeout sends it earlier).
  size_t buffer_bytes = 32 * 1024;
  // The longest a partly filled buffer waits while its producer is busy.
  std::chrono::milliseconds buffer_timeout{100};
  // Buffers a consumer can hold per channel: the producer sends this many ahead. Credits go back
  // in groups of half of these, so the producer keeps sending during the credit round trip.
  // What limits a fast channel is how often credit frames wake the producer's side: groups of 16
  // (32 credits) moved 1.6 GB/s of 100-byte records where groups of 4 (8 credits) moved 1.0
  // (brook_shuffle_bench shuffle_tcp --credits C, quiet 2-core VM). Memory: at most this many
  // buffers per channel at the consumer (32: 1 MiB), and as much channel state in an unaligned
  // checkpoint under backpressure; lower it (network.credits-per-channel) for many channels.
  uint32_t initial_credits = 32;
  // Largest frame accepted (bytes after the length prefix); larger ones close the connection.
  size_t max_frame_bytes = (size_t{1} << 20) + 1024;
  // A connection must connect and complete the Hello exchange within this time.
  std::chrono::milliseconds handshake_timeout{10'000};
  size_t max_connections = 1024;  // further accepted connections are closed at once
};

namespace network {
class EnvironmentCore;
}

class NetworkEnvironment {
 public:
  explicit NetworkEnvironment(NetworkOptions options);
  ~NetworkEnvironment();
  NetworkEnvironment(const NetworkEnvironment&) = delete;
  NetworkEnvironment& operator=(const NetworkEnvironment&) = delete;

  // Binds the listener and starts the threads. False, with the reason in *error, if the address
  // cannot be bound or the options are invalid. At most once.
  [[nodiscard]] bool Start(std::string* error = nullptr);
  void Stop();

  // The bound port (after Start), and the address peers use to reach this environment.
  uint16_t port() const;
  PeerAddress address() const;
  const NetworkOptions& options() const { return options_; }
  // Open TCP connections, handshaking or established (tests, metrics).
  size_t connection_count() const;

  // The producer end of channel `id`. REQUIRES: no other open outbound channel has this id.
  std::unique_ptr<network::OutboundChannel> OpenOutbound(const ChannelId& id);
  // The consumer end of channel `id`, whose producer runs in the environment at `producer`.
  // REQUIRES: no other open inbound channel has this id.
  std::unique_ptr<network::InboundChannel> OpenInbound(const ChannelId& id,
                                                       const PeerAddress& producer);

 private:
  const NetworkOptions options_;
  // Shared with every channel endpoint, which must unregister from it even after Stop().
  std::shared_ptr<network::EnvironmentCore> core_;
};

}  // namespace brook
