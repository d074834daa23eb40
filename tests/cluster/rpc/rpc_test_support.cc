#include "rpc_test_support.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/cluster/rpc/rpc_test.capnp.h"

namespace brook::rpc::testing {
namespace {

std::byte BlobByte(size_t index) { return std::byte((index * 131 + 7) & 0xff); }

}  // namespace

RpcOptions Options(PeerRole role, std::string name, std::string token) {
  RpcOptions options;
  options.role = role;
  options.name = std::move(name);
  options.cluster_token = std::move(token);
  return options;
}

void BuildMessage(capnp::MallocMessageBuilder& message, uint32_t sender, uint64_t sequence,
                  size_t blob_bytes) {
  auto root = message.initRoot<test::TestMessage>();
  root.setSender(sender);
  root.setSequence(sequence);
  if (blob_bytes > 0) {
    auto blob = root.initBlob(blob_bytes);
    for (size_t i = 0; i < blob_bytes; ++i) blob[i] = static_cast<kj::byte>(BlobByte(i));
  }
}

void RecordingHandler::Record(const std::function<void()>& change) {
  if (silent_) ++late_callbacks_;
  {
    std::lock_guard lock(mutex_);
    change();
  }
  changed_.notify_all();
}

void RecordingHandler::OnConnected(const std::shared_ptr<RpcConnection>& connection) {
  Record([&] { connected_.push_back(connection); });
}

void RecordingHandler::OnMessage(const std::shared_ptr<RpcConnection>& connection,
                                 capnp::MessageReader& message) {
  auto root = message.getRoot<test::TestMessage>();
  auto blob = root.getBlob();
  bool intact = true;
  for (size_t i = 0; i < blob.size() && intact; ++i)
    intact = static_cast<std::byte>(blob[i]) == BlobByte(i);
  const Received received{root.getSender(), root.getSequence(), blob.size(), intact};
  Record([&] { received_.push_back(received); });
  if (throw_on_sequence && *throw_on_sequence == received.sequence)
    throw std::runtime_error("test handler refuses sequence " + std::to_string(received.sequence));
  if (echo) {
    capnp::MallocMessageBuilder reply;
    reply.setRoot(root);
    connection->Send(reply);
  }
}

void RecordingHandler::OnClosed(const std::shared_ptr<RpcConnection>& connection,
                                const std::string& reason) {
  Record([&] {
    closed_.push_back(connection);
    closed_reasons_.push_back(reason);
  });
}

bool RecordingHandler::WaitUntil(const std::function<bool()>& done,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, done);
}

std::vector<std::shared_ptr<RpcConnection>> RecordingHandler::connected() {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::vector<RecordingHandler::Received> RecordingHandler::received() {
  std::lock_guard lock(mutex_);
  return received_;
}

std::vector<std::string> RecordingHandler::closed_reasons() {
  std::lock_guard lock(mutex_);
  return closed_reasons_;
}

size_t RecordingHandler::closed_count(const std::shared_ptr<RpcConnection>& connection) {
  std::lock_guard lock(mutex_);
  return std::count(closed_.begin(), closed_.end(), connection);
}

RawSocket::RawSocket(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawSocket::Write(std::span<const std::byte> bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n <= 0) return false;
    written += size_t(n);
  }
  return true;
}

bool RawSocket::WriteLength(uint32_t length) {
  std::byte prefix[4];
  std::memcpy(prefix, &length, 4);
  return Write(prefix);
}

bool RawSocket::ReadExactly(std::byte* out, size_t size,
                            std::chrono::steady_clock::time_point deadline) {
  size_t got = 0;
  while (got < size) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, int(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd_, out + got, size - got, 0);
    if (n <= 0) return false;
    got += size_t(n);
  }
  return true;
}

bool RawSocket::ReadFrame(std::vector<std::byte>& body, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::byte prefix[4];
  if (!ReadExactly(prefix, 4, deadline)) return false;
  body.assign(network::DecodeFrameLength(prefix), std::byte{0});
  return ReadExactly(body.data(), body.size(), deadline);
}

bool RawSocket::WaitForClose(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::byte sink[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, int(left.count())) <= 0) return false;
    if (::recv(fd_, sink, sizeof(sink), 0) <= 0) return true;  // EOF or reset
  }
}

bool RawSocket::Hello(const std::string& token, uint32_t version, RpcHelloMessage& reply) {
  if (!WriteFrame(EncodeRpcHello({version, token, PeerRole::kTaskManager, "raw", ""})))
    return false;
  std::vector<std::byte> body;
  std::string error;
  return ReadFrame(body) && DecodeRpcHello(body, reply, error);
}

}  // namespace brook::rpc::testing
