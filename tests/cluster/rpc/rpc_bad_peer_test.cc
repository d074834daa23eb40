// Peers that do not play by the rules: wrong token or version, silence, oversized, empty or
// random frames, frames that are not Cap'n Proto, a handler that throws. Each closes only its own
// connection with a logged error; the server keeps serving the others.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "rpc_test_support.h"

namespace brook::rpc {
namespace {

using namespace std::chrono_literals;
using testing::BuildMessage;
using testing::Options;
using testing::RawSocket;
using testing::RecordingHandler;

class RpcBadPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    RpcOptions options = Options(PeerRole::kJobManager, "jm");
    options.handshake_timeout = 300ms;
    options.max_frame_bytes = 1 << 20;
    server_ = std::make_unique<RpcServer>(options, server_handler_);
    ASSERT_TRUE(server_->Start("127.0.0.1", 0, &error_)) << error_;
  }

  // A well-behaved client still gets through and is answered.
  void ExpectServerStillServes() {
    RecordingHandler handler;
    RpcClient client(Options(PeerRole::kTaskManager, "good"), handler);
    auto connection = client.Connect("127.0.0.1", server_->port(), 5000ms, &error_);
    ASSERT_NE(connection, nullptr) << error_;
    capnp::MallocMessageBuilder message;
    BuildMessage(message, 0, 7);
    const size_t before = server_handler_.received().size();
    ASSERT_TRUE(connection->Send(message));
    ASSERT_TRUE(server_handler_.WaitForReceived(before + 1));
    EXPECT_EQ(server_handler_.received().back().sequence, 7u);
  }

  // A raw socket that completed the handshake.
  std::unique_ptr<RawSocket> Handshaken() {
    auto socket = std::make_unique<RawSocket>(server_->port());
    RpcHelloMessage reply;
    EXPECT_TRUE(socket->Hello("secret", kRpcProtocolVersion, reply));
    EXPECT_EQ(reply.refusal, "");
    EXPECT_EQ(reply.cluster_token, "secret");
    EXPECT_TRUE(server_handler_.WaitForConnected(1));
    return socket;
  }

  std::string error_;
  RecordingHandler server_handler_;
  std::unique_ptr<RpcServer> server_;
};

TEST_F(RpcBadPeer, WrongTokenIsRefusedWithAClearErrorAndTheServerKeepsServing) {
  RecordingHandler handler;
  RpcClient client(Options(PeerRole::kTaskManager, "tm", "not the secret"), handler);
  EXPECT_EQ(client.Connect("127.0.0.1", server_->port(), 5000ms, &error_), nullptr);
  EXPECT_NE(error_.find("jm refused the connection: wrong cluster token"), std::string::npos)
      << error_;
  EXPECT_TRUE(handler.connected().empty());
  EXPECT_TRUE(server_handler_.connected().empty());
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, TheRefusalDoesNotRevealTheToken) {
  RawSocket socket(server_->port());
  RpcHelloMessage reply;
  ASSERT_TRUE(socket.Hello("guess", kRpcProtocolVersion, reply));
  EXPECT_EQ(reply.refusal, "wrong cluster token");
  EXPECT_EQ(reply.cluster_token, "");
  EXPECT_TRUE(socket.WaitForClose());
}

TEST_F(RpcBadPeer, OtherProtocolVersionIsRefusedNamingBothVersions) {
  RawSocket socket(server_->port());
  RpcHelloMessage reply;
  ASSERT_TRUE(socket.Hello("secret", kRpcProtocolVersion + 1, reply));
  EXPECT_NE(reply.refusal.find("raw speaks version " + std::to_string(kRpcProtocolVersion + 1)),
            std::string::npos)
      << reply.refusal;
  EXPECT_NE(reply.refusal.find("jm speaks version " + std::to_string(kRpcProtocolVersion)),
            std::string::npos)
      << reply.refusal;
  EXPECT_TRUE(socket.WaitForClose());
  EXPECT_TRUE(server_handler_.connected().empty());
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, ClientRefusesAServerOfAnotherVersionOrToken) {
  // A fake server that answers every Hello with its own, of another version.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::thread fake([&] {
    const int fd = ::accept(listener, nullptr, nullptr);
    const auto frame =
        EncodeRpcHello({kRpcProtocolVersion + 5, "secret", PeerRole::kJobManager, "old jm", ""})
            .Flatten();
    ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    std::byte sink[256];
    while (::recv(fd, sink, sizeof(sink), 0) > 0) {
    }
    ::close(fd);
  });
  RecordingHandler handler;
  RpcClient client(Options(PeerRole::kTaskManager, "tm"), handler);
  EXPECT_EQ(client.Connect("127.0.0.1", ntohs(address.sin_port), 5000ms, &error_), nullptr);
  EXPECT_NE(error_.find("old jm speaks version"), std::string::npos) << error_;
  fake.join();
  ::close(listener);
  EXPECT_TRUE(handler.connected().empty());
}

TEST_F(RpcBadPeer, APeerThatNeverSaysHelloIsClosedAfterTheHandshakeTimeout) {
  RawSocket silent(server_->port());
  ASSERT_TRUE(silent.connected());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, ConnectToAServerThatNeverAnswersTimesOut) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);  // the kernel accepts; nobody ever answers
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  RecordingHandler handler;
  RpcClient client(Options(PeerRole::kTaskManager, "tm"), handler);
  EXPECT_EQ(client.Connect("127.0.0.1", ntohs(address.sin_port), 300ms, &error_), nullptr);
  EXPECT_NE(error_.find("no handshake within 300 ms"), std::string::npos) << error_;
  ::close(listener);
}

TEST_F(RpcBadPeer, ConnectToAClosedPortSaysRefused) {
  const uint16_t port = server_->port();
  server_.reset();
  RecordingHandler handler;
  RpcClient client(Options(PeerRole::kTaskManager, "tm"), handler);
  EXPECT_EQ(client.Connect("127.0.0.1", port, 5000ms, &error_), nullptr);
  EXPECT_NE(error_.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << error_;
  EXPECT_NE(error_.find("refused"), std::string::npos) << error_;
}

TEST_F(RpcBadPeer, OversizedLengthPrefixClosesTheConnection) {
  {
    RawSocket before_hello(server_->port());
    ASSERT_TRUE(before_hello.WriteLength(1u << 30));
    EXPECT_TRUE(before_hello.WaitForClose(2000ms));
  }
  auto after_hello = Handshaken();
  ASSERT_TRUE(after_hello->WriteLength((1u << 20) + 8));  // one word above max_frame_bytes
  EXPECT_TRUE(after_hello->WaitForClose(2000ms));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_NE(server_handler_.closed_reasons()[0].find("exceeds the limit"), std::string::npos)
      << server_handler_.closed_reasons()[0];
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, ZeroLengthFrameClosesTheConnection) {
  auto socket = Handshaken();
  ASSERT_TRUE(socket->WriteLength(0));
  EXPECT_TRUE(socket->WaitForClose(2000ms));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_NE(server_handler_.closed_reasons()[0].find("not a positive multiple of 8"),
            std::string::npos);
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, RandomBytesCloseTheirConnectionOnly) {
  std::mt19937 random(1234);
  for (int round = 0; round < 20; ++round) {
    RawSocket socket(server_->port());
    std::vector<std::byte> garbage(64 + random() % 4096);
    for (auto& byte : garbage) byte = std::byte(random() & 0xff);
    socket.Write(garbage);  // the server may close before reading it all
    EXPECT_TRUE(socket.WaitForClose(2000ms)) << "round " << round;
  }
  EXPECT_TRUE(server_handler_.connected().empty());
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, RandomFrameBodiesAfterTheHandshakeCloseTheirConnectionOnly) {
  std::mt19937 random(99);
  constexpr size_t kRounds = 20;
  for (size_t round = 0; round < kRounds; ++round) {
    RawSocket socket(server_->port());
    RpcHelloMessage reply;
    ASSERT_TRUE(socket.Hello("secret", kRpcProtocolVersion, reply));
    const uint32_t length = 8 * (1 + random() % 512);  // a valid length, then garbage
    std::vector<std::byte> body(length);
    for (auto& byte : body) byte = std::byte(random() & 0xff);
    ASSERT_TRUE(socket.WriteLength(length));
    socket.Write(body);
    EXPECT_TRUE(socket.WaitForClose(2000ms)) << "round " << round;
  }
  ASSERT_TRUE(server_handler_.WaitForClosed(kRounds));
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, RandomMessagesBehindAValidSegmentTableNeverTakeTheServerDown) {
  // Random pointers: the handler's reads either fail (connection closed) or see some values.
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    RawSocket socket(server_->port());
    RpcHelloMessage reply;
    ASSERT_TRUE(socket.Hello("secret", kRpcProtocolVersion, reply));
    const uint32_t words = 2 + random() % 256;
    std::vector<std::byte> frame(4 + 8 * words);
    const uint32_t length = 8 * words;
    const uint32_t segment_table[2] = {0, words - 1};  // one segment: the rest of the frame
    std::memcpy(frame.data(), &length, 4);
    std::memcpy(frame.data() + 4, segment_table, 8);
    for (size_t i = 12; i < frame.size(); ++i) frame[i] = std::byte(random() & 0xff);
    ASSERT_TRUE(socket.Write(frame));
  }
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, AFrameThatIsNotCapnProtoClosesTheConnection) {
  auto socket = Handshaken();
  // A segment table announcing 2^31 segments, then nothing.
  std::vector<std::byte> frame(4 + 16, std::byte{0});
  const uint32_t length = 16;
  const uint32_t segments = 0x7fffffff;
  std::memcpy(frame.data(), &length, 4);
  std::memcpy(frame.data() + 4, &segments, 4);
  ASSERT_TRUE(socket->Write(frame));
  EXPECT_TRUE(socket->WaitForClose(2000ms));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_NE(server_handler_.closed_reasons()[0].find("malformed message"), std::string::npos)
      << server_handler_.closed_reasons()[0];
  EXPECT_TRUE(server_handler_.received().empty());
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, AMessageWithBadPointersClosesTheConnectionWhenTheHandlerReadsIt) {
  auto socket = Handshaken();
  // One segment of two words: a root struct pointer whose offset points far outside.
  std::vector<std::byte> frame(4 + 8 + 16, std::byte{0});
  const uint32_t length = 24;
  const uint32_t segment_words = 2;
  const uint64_t root = (uint64_t{1} << 32) | (uint64_t{0x1000} << 2);  // struct, offset 4096
  std::memcpy(frame.data(), &length, 4);
  std::memcpy(frame.data() + 8, &segment_words, 4);
  std::memcpy(frame.data() + 12, &root, 8);
  ASSERT_TRUE(socket->Write(frame));
  EXPECT_TRUE(socket->WaitForClose(2000ms));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_NE(server_handler_.closed_reasons()[0].find("the handler rejected a message"),
            std::string::npos)
      << server_handler_.closed_reasons()[0];
  ExpectServerStillServes();
}

TEST_F(RpcBadPeer, AHandlerThatThrowsClosesThatConnection) {
  server_handler_.throw_on_sequence = 3;
  RecordingHandler handler;
  RpcClient client(Options(PeerRole::kTaskManager, "tm"), handler);
  auto connection = client.Connect("127.0.0.1", server_->port(), 5000ms, &error_);
  ASSERT_NE(connection, nullptr) << error_;
  for (uint64_t i = 0; i < 10; ++i) {
    capnp::MallocMessageBuilder message;
    BuildMessage(message, 0, i);
    connection->Send(message);
  }
  ASSERT_TRUE(handler.WaitForClosed(1));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_NE(server_handler_.closed_reasons()[0].find("refuses sequence 3"), std::string::npos)
      << server_handler_.closed_reasons()[0];
  EXPECT_EQ(server_handler_.received().size(), 4u);  // 0..3; nothing after the violation
  ExpectServerStillServes();
}

}  // namespace
}  // namespace brook::rpc
