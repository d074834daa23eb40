// Helpers of the rpc tests: a handler that records every callback, test messages, and a raw
// socket that speaks (or fails to speak) the protocol byte by byte. Loopback only; every wait is
// bounded.
#pragma once

#include <capnp/message.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "brook/cluster/rpc/rpc_client.h"
#include "brook/cluster/rpc/rpc_server.h"
#include "cluster/src/rpc/rpc_wire.h"

namespace brook::rpc::testing {

inline constexpr std::chrono::milliseconds kWait{10'000};

RpcOptions Options(PeerRole role, std::string name, std::string token = "secret");

// A TestMessage (rpc_test.capnp); a blob of `blob_bytes` in a pattern CheckBlob recognizes.
void BuildMessage(capnp::MallocMessageBuilder& message, uint32_t sender, uint64_t sequence,
                  size_t blob_bytes = 0);

class RecordingHandler : public RpcHandler {
 public:
  struct Received {
    uint32_t sender;
    uint64_t sequence;
    size_t blob_bytes;
    bool blob_intact;
  };

  // Configure before the handler sees any connection.
  bool echo = false;                        // send every message back as it came
  std::optional<uint64_t> throw_on_sequence;  // OnMessage throws std::runtime_error for it

  void OnConnected(const std::shared_ptr<RpcConnection>& connection) override;
  void OnMessage(const std::shared_ptr<RpcConnection>& connection,
                 capnp::MessageReader& message) override;
  void OnClosed(const std::shared_ptr<RpcConnection>& connection,
                const std::string& reason) override;

  // Waits until `done` (called under the handler's lock) holds or `timeout` passes.
  bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kWait);
  bool WaitForConnected(size_t count) {
    return WaitUntil([&] { return connected_.size() >= count; });
  }
  bool WaitForClosed(size_t count) {
    return WaitUntil([&] { return closed_.size() >= count; });
  }
  bool WaitForReceived(size_t count) {
    return WaitUntil([&] { return received_.size() >= count; });
  }

  std::vector<std::shared_ptr<RpcConnection>> connected();
  std::vector<Received> received();
  std::vector<std::string> closed_reasons();
  // How often OnClosed ran for `connection`.
  size_t closed_count(const std::shared_ptr<RpcConnection>& connection);
  // From now on every callback is a bug: counted in late_callbacks.
  void ExpectSilence() { silent_ = true; }
  int late_callbacks() const { return late_callbacks_.load(); }

 private:
  void Record(const std::function<void()>& change);

  std::atomic<bool> silent_{false};
  std::atomic<int> late_callbacks_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<RpcConnection>> connected_;  // guarded by mutex_
  std::vector<Received> received_;                         // guarded by mutex_
  std::vector<std::shared_ptr<RpcConnection>> closed_;     // guarded by mutex_
  std::vector<std::string> closed_reasons_;                // guarded by mutex_
};

// A plain TCP socket to 127.0.0.1:port.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool Write(std::span<const std::byte> bytes);
  bool WriteFrame(const network::OutgoingFrame& frame) { return Write(frame.Flatten()); }
  bool WriteLength(uint32_t length);
  // One frame's body, within `timeout`; false on timeout or close.
  bool ReadFrame(std::vector<std::byte>& body, std::chrono::milliseconds timeout = kWait);
  // True if the peer closes within `timeout` (whatever it sends first is discarded).
  bool WaitForClose(std::chrono::milliseconds timeout = kWait);
  // Sends a Hello with `token` and `version` and returns the server's answer in `reply`.
  bool Hello(const std::string& token, uint32_t version, RpcHelloMessage& reply);

 private:
  bool ReadExactly(std::byte* out, size_t size, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace brook::rpc::testing
