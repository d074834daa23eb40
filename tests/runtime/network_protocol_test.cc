// The data-plane wire protocol: frame encoding, and a listener that refuses bad peers (wrong
// token or version, garbage, oversized frames, silence) by closing only their connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "brook/runtime/network/network_channel.h"
#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/network/wire_internal.h"

namespace brook {
namespace {

using namespace std::chrono_literals;
using network::DecodeFrame;
using network::DecodeFrameLength;
using network::WireMessage;

const ChannelId kChannel{JobId(77), 2, SubtaskIndex(3), SubtaskIndex(1)};

WireMessage RoundTrip(const network::OutgoingFrame& frame) {
  const auto bytes = frame.Flatten();
  EXPECT_EQ(DecodeFrameLength(std::span<const std::byte, 4>(bytes.data(), 4)), bytes.size() - 4);
  // Copy the body to a fresh (aligned) allocation, as the connection reads it.
  std::vector<std::byte> body(bytes.begin() + 4, bytes.end());
  WireMessage message;
  std::string error;
  EXPECT_TRUE(DecodeFrame(body, message, error)) << error;
  if (auto* data = std::get_if<network::DataBufferMessage>(&message)) {
    // The payload points into `body`, which dies here: compare it now.
    static std::vector<std::byte> kept;
    kept.assign(data->payload.begin(), data->payload.end());
    data->payload = kept;
  }
  return message;
}

TEST(NetworkWire, RoundTripsEveryMessage) {
  auto hello = std::get<network::HelloMessage>(RoundTrip(network::EncodeHello(5, "tok", "h:1")));
  EXPECT_EQ(hello.protocol_version, 5u);
  EXPECT_EQ(hello.cluster_token, "tok");
  EXPECT_EQ(hello.advertised_address, "h:1");

  auto request = std::get<network::RequestChannelMessage>(
      RoundTrip(network::EncodeRequestChannel(kChannel, 4)));
  EXPECT_EQ(request.channel, kChannel);
  EXPECT_EQ(request.initial_credits, 4u);

  std::vector<std::byte> payload(13);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i + 1);
  const auto expected = payload;
  auto data = std::get<network::DataBufferMessage>(
      RoundTrip(network::EncodeDataBuffer(kChannel, 99, std::move(payload))));
  EXPECT_EQ(data.channel, kChannel);
  EXPECT_EQ(data.sequence, 99u);
  EXPECT_TRUE(std::equal(data.payload.begin(), data.payload.end(), expected.begin(), expected.end()));

  auto credit = std::get<network::CreditMessage>(RoundTrip(network::EncodeCredit(kChannel, 2)));
  EXPECT_EQ(credit.credits, 2u);

  auto close = std::get<network::CloseChannelMessage>(
      RoundTrip(network::EncodeCloseChannel(kChannel, true, "bye")));
  EXPECT_TRUE(close.from_producer);
  EXPECT_EQ(close.reason, "bye");
}

TEST(NetworkWire, RejectsMalformedBodiesWithoutThrowing) {
  const auto bytes = network::EncodeRequestChannel(kChannel, 4).Flatten();
  std::vector<std::byte> body(bytes.begin() + 4, bytes.end());
  WireMessage message;
  std::string error;
  std::vector<std::byte> truncated(body.begin(), body.end() - 8);
  EXPECT_FALSE(DecodeFrame(truncated, message, error));
  std::mt19937 random(1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> garbage(8 * (1 + random() % 16));
    for (auto& b : garbage) b = std::byte(random());
    DecodeFrame(garbage, message, error);  // must only say no, never crash or throw
  }
  EXPECT_FALSE(DecodeFrame(std::vector<std::byte>(7), message, error));
}

// A raw TCP client for feeding the listener whatever bytes a test likes.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  }
  ~RawClient() { ::close(fd_); }

  void Write(const std::vector<std::byte>& bytes) {
    // The peer may close while we write: ignore EPIPE (MSG_NOSIGNAL) and what follows.
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += size_t(n);
    }
  }

  // Everything the peer sends within `timeout` or until it closes.
  std::string ReadFor(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string received;
    char buffer[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return received;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return received;
      received.append(buffer, size_t(n));
    }
  }

  // True if the peer closes the connection within `timeout` (what it sends first is skipped).
  bool ClosedByPeer(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;  // EOF or reset
    }
  }

 private:
  int fd_;
};

NetworkOptions Options() {
  NetworkOptions options;
  options.cluster_token = "right-token";
  options.handshake_timeout = 500ms;
  return options;
}

std::vector<std::byte> HelloBytes(uint32_t version, const std::string& token) {
  return network::EncodeHello(version, token, "").Flatten();
}

TEST(NetworkProtocol, RefusesAWrongClusterToken) {
  NetworkEnvironment env(Options());
  ASSERT_TRUE(env.Start());
  RawClient client(env.port());
  client.Write(HelloBytes(network::kProtocolVersion, "wrong-token"));
  EXPECT_TRUE(client.ClosedByPeer(3s));
}

TEST(NetworkProtocol, AnswersWithItsTokenOnlyAPeerThatSentTheRightOne) {
  NetworkEnvironment env(Options());
  ASSERT_TRUE(env.Start());
  auto answer = [&](const std::string& token) {
    RawClient client(env.port());
    client.Write(HelloBytes(network::kProtocolVersion, token));
    return client.ReadFor(500ms);
  };
  const std::string token = "right-token";
  const std::string refused = answer("wrong-token");
  EXPECT_EQ(refused.find(token), std::string::npos);
  const std::string accepted = answer(token);
  EXPECT_NE(accepted.find(token), std::string::npos) << "the accepted peer gets our Hello";
}

TEST(NetworkProtocol, RefusesAWrongProtocolVersion) {
  NetworkEnvironment env(Options());
  ASSERT_TRUE(env.Start());
  RawClient client(env.port());
  client.Write(HelloBytes(network::kProtocolVersion + 1, "right-token"));
  EXPECT_TRUE(client.ClosedByPeer(3s));
}

TEST(NetworkProtocol, ClosesAConnectionThatNeverSaysHello) {
  NetworkEnvironment env(Options());
  ASSERT_TRUE(env.Start());
  RawClient client(env.port());
  EXPECT_TRUE(client.ClosedByPeer(3s));
}

TEST(NetworkProtocol, ChannelsBetweenEnvironmentsWithDifferentTokensFail) {
  NetworkEnvironment producer(Options());
  NetworkOptions other = Options();
  other.cluster_token = "other-token";
  NetworkEnvironment consumer(other);
  ASSERT_TRUE(producer.Start());
  ASSERT_TRUE(consumer.Start());
  TaskNotifier notifier;  // declared first: outlives the receiver
  NetworkChannelReceiver<int> in(consumer, kChannel, producer.address());
  in.SetConsumerNotifier(&notifier);
  ChannelElement<int> element;
  EXPECT_THROW(
      {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!in.Poll(element) && std::chrono::steady_clock::now() < deadline)
          notifier.WaitUntil(deadline);
      },
      std::runtime_error);
}

// A working channel between two environments, for checking that bad peers do not disturb it.
struct GoodChannel {
  GoodChannel() : producer(Options()), consumer(Options()) {
    EXPECT_TRUE(producer.Start());
    EXPECT_TRUE(consumer.Start());
    in = std::make_unique<NetworkChannelReceiver<int>>(consumer, kChannel, producer.address());
    out = std::make_unique<NetworkChannelSender<int>>(producer, kChannel);
    in->SetConsumerNotifier(&notifier);
  }
  // Sends one record and waits for it.
  bool Works(int value) {
    RecordBatch<int> batch;
    batch.push(value, value);
    out->Send(std::move(batch), nullptr);
    out->Flush();
    ChannelElement<int> element;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!in->Poll(element)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      notifier.WaitUntil(deadline);
    }
    auto* received = std::get_if<RecordBatch<int>>(&element);
    return received && received->size() == 1 && received->records[0].value == value;
  }
  NetworkEnvironment producer;
  NetworkEnvironment consumer;
  TaskNotifier notifier;  // before `in`: outlives it
  std::unique_ptr<NetworkChannelReceiver<int>> in;
  std::unique_ptr<NetworkChannelSender<int>> out;
};

TEST(NetworkProtocol, BadFramesCloseOnlyTheirConnectionAndTheProcessKeepsServing) {
  GoodChannel good;
  ASSERT_TRUE(good.Works(1));

  {  // Random bytes instead of a Hello.
    RawClient client(good.producer.port());
    std::mt19937 random(7);
    std::vector<std::byte> garbage(64 * 1024);
    for (auto& b : garbage) b = std::byte(random());
    client.Write(garbage);
    EXPECT_TRUE(client.ClosedByPeer(3s));
  }
  {  // A length far beyond the limit, before the handshake.
    RawClient client(good.producer.port());
    client.Write({std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0x7f}});
    EXPECT_TRUE(client.ClosedByPeer(3s));
  }
  {  // After a correct Hello: a frame just over the limit, without its body.
    RawClient client(good.producer.port());
    client.Write(HelloBytes(network::kProtocolVersion, "right-token"));
    EXPECT_FALSE(client.ClosedByPeer(200ms)) << "a good Hello is accepted";
    const uint32_t length = uint32_t(Options().max_frame_bytes + 8);
    std::vector<std::byte> prefix(4);
    std::memcpy(prefix.data(), &length, 4);
    client.Write(prefix);
    EXPECT_TRUE(client.ClosedByPeer(3s));
  }
  {  // After a correct Hello: a well-sized frame of garbage.
    RawClient client(good.producer.port());
    client.Write(HelloBytes(network::kProtocolVersion, "right-token"));
    std::vector<std::byte> frame(4 + 64, std::byte{0xab});
    const uint32_t length = 64;
    std::memcpy(frame.data(), &length, 4);
    client.Write(frame);
    EXPECT_TRUE(client.ClosedByPeer(3s));
  }
  {  // After a correct Hello: credit for a channel that was never requested is ignored, but a
     // data buffer nobody granted credit for on a foreign connection closes it.
    RawClient client(good.consumer.port());
    client.Write(HelloBytes(network::kProtocolVersion, "right-token"));
    client.Write(network::EncodeDataBuffer(kChannel, 0, std::vector<std::byte>(8)).Flatten());
    EXPECT_TRUE(client.ClosedByPeer(3s));
  }

  EXPECT_TRUE(good.Works(2)) << "the good connection survived";
  RawClient late(good.producer.port());
  late.Write(HelloBytes(network::kProtocolVersion, "right-token"));
  EXPECT_FALSE(late.ClosedByPeer(200ms)) << "the listener still accepts";
  EXPECT_TRUE(good.Works(3));
}

}  // namespace
}  // namespace brook
