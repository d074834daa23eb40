// The control-plane transport between well-behaved peers: messages both ways and from many
// threads, large messages, closing from either side, Stop with open connections.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <thread>

#include "rpc_test_support.h"

namespace brook::rpc {
namespace {

using namespace std::chrono_literals;
using testing::BuildMessage;
using testing::Options;
using testing::RecordingHandler;

class RpcTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    server_handler_.echo = true;
    ASSERT_TRUE(server_.Start("127.0.0.1", 0, &error_)) << error_;
    ASSERT_NE(server_.port(), 0);
  }

  std::shared_ptr<RpcConnection> Connect(RpcClient& client) {
    auto connection = client.Connect("127.0.0.1", server_.port(), 5000ms, &error_);
    EXPECT_NE(connection, nullptr) << error_;
    return connection;
  }

  std::string error_;
  RecordingHandler server_handler_;
  RecordingHandler client_handler_;
  RpcServer server_{Options(PeerRole::kJobManager, "jm"), server_handler_};
  RpcClient client_{Options(PeerRole::kTaskManager, "tm-1"), client_handler_};
};

TEST_F(RpcTransport, ExchangesHellosAndKnowsItsPeers) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  // OnConnected has run on the client before Connect returned.
  ASSERT_EQ(client_handler_.connected().size(), 1u);
  EXPECT_EQ(connection->peer().role, PeerRole::kJobManager);
  EXPECT_EQ(connection->peer().name, "jm");
  EXPECT_EQ(connection->peer().remote_address, "127.0.0.1:" + std::to_string(server_.port()));
  ASSERT_TRUE(server_handler_.WaitForConnected(1));
  const auto& server_side = server_handler_.connected()[0]->peer();
  EXPECT_EQ(server_side.role, PeerRole::kTaskManager);
  EXPECT_EQ(server_side.name, "tm-1");
  EXPECT_EQ(server_side.remote_address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(server_.connection_count(), 1u);
  EXPECT_EQ(client_.connection_count(), 1u);
}

TEST_F(RpcTransport, RoundTripsManyMessagesInOrderBothWays) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  constexpr uint64_t kMessages = 5000;
  for (uint64_t i = 0; i < kMessages; ++i) {
    capnp::MallocMessageBuilder message;
    BuildMessage(message, 0, i, i % 7);
    ASSERT_TRUE(connection->Send(message, &error_)) << error_;
  }
  ASSERT_TRUE(client_handler_.WaitForReceived(kMessages));  // the server echoes each one
  const auto at_server = server_handler_.received();
  const auto at_client = client_handler_.received();
  ASSERT_EQ(at_server.size(), kMessages);
  ASSERT_EQ(at_client.size(), kMessages);
  for (uint64_t i = 0; i < kMessages; ++i) {
    EXPECT_EQ(at_server[i].sequence, i);
    EXPECT_EQ(at_client[i].sequence, i);
    EXPECT_EQ(at_client[i].blob_bytes, i % 7);
    EXPECT_TRUE(at_client[i].blob_intact);
  }
}

TEST_F(RpcTransport, KeepsEachThreadsOrderWhenSendingFromSeveralThreads) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  constexpr uint32_t kThreads = 4;
  constexpr uint64_t kPerThread = 1000;
  std::vector<std::thread> senders;
  for (uint32_t sender = 0; sender < kThreads; ++sender) {
    senders.emplace_back([&, sender] {
      for (uint64_t i = 0; i < kPerThread; ++i) {
        capnp::MallocMessageBuilder message;
        BuildMessage(message, sender, i);
        connection->Send(message);
      }
    });
  }
  for (auto& thread : senders) thread.join();
  ASSERT_TRUE(server_handler_.WaitForReceived(kThreads * kPerThread));
  std::vector<uint64_t> next(kThreads, 0);
  for (const auto& received : server_handler_.received()) {
    ASSERT_LT(received.sender, kThreads);
    EXPECT_EQ(received.sequence, next[received.sender]++);
  }
  for (uint32_t sender = 0; sender < kThreads; ++sender) EXPECT_EQ(next[sender], kPerThread);
}

TEST_F(RpcTransport, CarriesAnEightMebibyteBlobBothWays) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  constexpr size_t kBlob = size_t{8} << 20;
  capnp::MallocMessageBuilder message;
  BuildMessage(message, 0, 42, kBlob);
  ASSERT_TRUE(connection->Send(message, &error_)) << error_;
  ASSERT_TRUE(client_handler_.WaitForReceived(1));
  for (const auto& received : {server_handler_.received().at(0), client_handler_.received()[0]}) {
    EXPECT_EQ(received.sequence, 42u);
    EXPECT_EQ(received.blob_bytes, kBlob);
    EXPECT_TRUE(received.blob_intact);
  }
}

TEST_F(RpcTransport, RefusesToSendAMessageAboveTheFrameLimitAndStaysOpen) {
  RecordingHandler handler;
  RpcOptions options = Options(PeerRole::kTaskManager, "small");
  options.max_frame_bytes = 64 << 10;
  RpcClient small(options, handler);
  auto connection = Connect(small);
  ASSERT_NE(connection, nullptr);
  capnp::MallocMessageBuilder big;
  BuildMessage(big, 0, 1, 128 << 10);
  EXPECT_FALSE(connection->Send(big, &error_));
  EXPECT_NE(error_.find("exceeds max_frame_bytes"), std::string::npos) << error_;
  capnp::MallocMessageBuilder fine;
  BuildMessage(fine, 0, 2, 1000);
  EXPECT_TRUE(connection->Send(fine, &error_)) << error_;
  ASSERT_TRUE(handler.WaitForReceived(1));
  EXPECT_EQ(handler.received()[0].sequence, 2u);
  EXPECT_FALSE(connection->closed());
}

TEST_F(RpcTransport, ClosingOneEndReportsOnClosedOnceOnEach) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(server_handler_.WaitForConnected(1));
  auto server_side = server_handler_.connected()[0];
  connection->Close("going away");
  connection->Close("again");  // idempotent
  ASSERT_TRUE(client_handler_.WaitForClosed(1));
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
  EXPECT_EQ(client_handler_.closed_reasons()[0], "going away");
  EXPECT_EQ(server_handler_.closed_reasons()[0], "closed by the peer");
  EXPECT_TRUE(connection->closed());
  EXPECT_TRUE(server_handler_.WaitUntil([&] { return server_.connection_count() == 0; }, 5000ms));
  std::this_thread::sleep_for(100ms);  // a second report would come now
  EXPECT_EQ(client_handler_.closed_count(connection), 1u);
  EXPECT_EQ(server_handler_.closed_count(server_side), 1u);
  capnp::MallocMessageBuilder message;
  BuildMessage(message, 0, 1);
  EXPECT_FALSE(connection->Send(message, &error_));
  EXPECT_NE(error_.find("closed"), std::string::npos) << error_;
}

TEST_F(RpcTransport, StopClosesOpenConnectionsAndThenIsSilent) {
  RecordingHandler handler;
  RpcClient other(Options(PeerRole::kClient, "cli"), handler);
  auto first = Connect(client_);
  auto second = Connect(client_);
  auto third = Connect(other);
  ASSERT_TRUE(first && second && third);
  ASSERT_TRUE(server_handler_.WaitForConnected(3));
  server_.Stop();
  // Every OnClosed ran before Stop returned; nothing comes after.
  EXPECT_EQ(server_handler_.closed_reasons().size(), 3u);
  server_handler_.ExpectSilence();
  ASSERT_TRUE(client_handler_.WaitForClosed(2));
  ASSERT_TRUE(handler.WaitForClosed(1));
  EXPECT_EQ(client_handler_.closed_reasons()[0], "closed by the peer");
  server_.Stop();  // idempotent
  // The server no longer accepts.
  EXPECT_EQ(client_.Connect("127.0.0.1", server_.port(), 1000ms, &error_), nullptr);
  client_.Stop();
  client_handler_.ExpectSilence();
  EXPECT_EQ(client_.Connect("127.0.0.1", 1, 1000ms, &error_), nullptr);
  EXPECT_NE(error_.find("stopped"), std::string::npos) << error_;
  capnp::MallocMessageBuilder message;
  BuildMessage(message, 0, 1);
  EXPECT_FALSE(first->Send(message));  // outlives its client: closed and inert
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(server_handler_.late_callbacks(), 0);
  EXPECT_EQ(client_handler_.late_callbacks(), 0);
}

TEST_F(RpcTransport, ClientStopClosesItsConnections) {
  auto connection = Connect(client_);
  ASSERT_NE(connection, nullptr);
  client_.Stop();
  EXPECT_EQ(client_handler_.closed_reasons().size(), 1u);
  EXPECT_TRUE(connection->closed());
  ASSERT_TRUE(server_handler_.WaitForClosed(1));
}

TEST(RpcIoThreads, ServesManyClientsConcurrentlyOnSeveralIoThreads) {
  RecordingHandler server_handler;
  server_handler.echo = true;
  RpcOptions options = Options(PeerRole::kJobManager, "jm");
  options.io_threads = 3;
  RpcServer server(options, server_handler);
  std::string error;
  ASSERT_TRUE(server.Start("127.0.0.1", 0, &error)) << error;
  constexpr uint32_t kClients = 4;
  constexpr uint64_t kPerClient = 500;
  std::vector<std::unique_ptr<RecordingHandler>> handlers;
  std::vector<std::unique_ptr<RpcClient>> clients;
  std::vector<std::thread> senders;
  for (uint32_t i = 0; i < kClients; ++i) {
    handlers.push_back(std::make_unique<RecordingHandler>());
    clients.push_back(std::make_unique<RpcClient>(
        Options(PeerRole::kTaskManager, "tm-" + std::to_string(i)), *handlers.back()));
  }
  for (uint32_t i = 0; i < kClients; ++i) {
    senders.emplace_back([&, i] {
      std::string why;
      auto connection = clients[i]->Connect("127.0.0.1", server.port(), 5000ms, &why);
      ASSERT_NE(connection, nullptr) << why;
      for (uint64_t sequence = 0; sequence < kPerClient; ++sequence) {
        capnp::MallocMessageBuilder message;
        BuildMessage(message, i, sequence, 100);
        connection->Send(message);
      }
    });
  }
  for (auto& thread : senders) thread.join();
  for (uint32_t i = 0; i < kClients; ++i) {
    ASSERT_TRUE(handlers[i]->WaitForReceived(kPerClient)) << "client " << i;
    const auto echoes = handlers[i]->received();
    for (uint64_t sequence = 0; sequence < kPerClient; ++sequence) {
      EXPECT_EQ(echoes[sequence].sender, i);
      EXPECT_EQ(echoes[sequence].sequence, sequence);
    }
  }
  EXPECT_EQ(server.connection_count(), kClients);
  server.Stop();
  EXPECT_EQ(server_handler.closed_reasons().size(), kClients);
}

TEST(RpcOptions, InvalidOptionsFailStartAndConnectWithAClearError) {
  RecordingHandler handler;
  RpcOptions options = Options(PeerRole::kJobManager, "jm");
  options.io_threads = 0;
  RpcServer server(options, handler);
  std::string error;
  EXPECT_FALSE(server.Start("127.0.0.1", 0, &error));
  EXPECT_NE(error.find("io_threads"), std::string::npos) << error;
  options = Options(PeerRole::kClient, "cli", std::string(5000, 't'));
  RpcClient client(options, handler);
  EXPECT_EQ(client.Connect("127.0.0.1", 1, 1000ms, &error), nullptr);
  EXPECT_NE(error.find("cluster token longer"), std::string::npos) << error;
}

TEST(RpcServerStart, ReportsAnAddressInUseAndStartingTwice) {
  RecordingHandler handler;
  RpcServer first(Options(PeerRole::kJobManager, "jm"), handler);
  std::string error;
  ASSERT_TRUE(first.Start("127.0.0.1", 0, &error)) << error;
  EXPECT_FALSE(first.Start("127.0.0.1", 0, &error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  RpcServer second(Options(PeerRole::kJobManager, "jm2"), handler);
  EXPECT_FALSE(second.Start("127.0.0.1", first.port(), &error));
  EXPECT_NE(error.find("cannot listen"), std::string::npos) << error;
}

}  // namespace
}  // namespace brook::rpc
