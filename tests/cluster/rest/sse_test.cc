// Server-sent-event streams (HttpServer::Stream, SseStream) read with raw sockets.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "brook/cluster/rest/http_client.h"
#include "brook/cluster/rest/http_server.h"
#include "raw_connection.h"

namespace brook::http {
namespace {

// Options with some fields set: designated initializers would leave others unnamed (-Wextra).
template <typename Set>
HttpServerOptions Options(Set set) {
  HttpServerOptions options;
  set(options);
  return options;
}

using testing::RawConnection;
using namespace std::chrono_literals;

constexpr char kSubscribe[] = "GET /events/u1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";

// Waits until `condition` holds; false after the deadline.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class SseTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->Stream("/events/{user}", [this](const Request& request,
                                             std::shared_ptr<SseStream> stream) {
      if (request.params.at("user") == "unknown") throw HttpError(404, "no such user");
      stream->Send("hello", request.params.at("user"));  // before the header is even written
      std::lock_guard lock(mutex_);
      streams_.push_back(std::move(stream));
    });
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }
  size_t StreamCount() {
    std::lock_guard lock(mutex_);
    return streams_.size();
  }
  std::shared_ptr<SseStream> StreamAt(size_t i) {
    std::lock_guard lock(mutex_);
    return streams_.at(i);
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<SseStream>> streams_;
};

TEST(SseFormat, OneDataLinePerLine) {
  EXPECT_EQ(FormatSseEvent("", "x"), "data: x\n\n");
  EXPECT_EQ(FormatSseEvent("rec", "a\nb\r\nc\rd"), "event: rec\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent("e", ""), "event: e\ndata: \n\n");
}

TEST_F(SseTest, StreamsEventsInOrderWithHeartbeats) {
  StartServer(Options([&](HttpServerOptions& o) { o.sse_heartbeat = 100ms; }));
  RawConnection raw(server_->port());
  raw.Send(kSubscribe);
  std::string received = raw.ReadUntil("data: u1\n\n");
  EXPECT_NE(received.find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_NE(received.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_LT(received.find("\r\n\r\n"), received.find("event: hello\ndata: u1\n\n"));
  ASSERT_TRUE(Eventually([&] { return StreamCount() == 1; }));

  auto stream = StreamAt(0);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(stream->Send("n", std::to_string(i)));
  received = raw.ReadUntil("data: 49\n\n");
  size_t previous = 0;
  for (int i = 0; i < 50; ++i) {
    size_t at = received.find("event: n\ndata: " + std::to_string(i) + "\n\n");
    ASSERT_NE(at, std::string::npos) << i;
    EXPECT_GT(at, previous);
    previous = at;
  }
  EXPECT_NE(raw.ReadUntil(": heartbeat\n\n").find(": heartbeat\n\n"), std::string::npos);
  EXPECT_FALSE(stream->closed());
  EXPECT_FALSE(stream->Send("bad\nevent", "x"));
}

TEST_F(SseTest, ClientGoingAwayClosesTheStream) {
  StartServer(Options([&](HttpServerOptions& o) { o.sse_heartbeat = 100ms; }));
  {
    RawConnection raw(server_->port());
    raw.Send(kSubscribe);
    raw.ReadUntil("data: u1\n\n");
    ASSERT_TRUE(Eventually([&] { return StreamCount() == 1; }));
    EXPECT_EQ(server_->connection_count(), 1u);
  }
  auto stream = StreamAt(0);
  EXPECT_TRUE(Eventually([&] { return stream->closed(); }));
  EXPECT_FALSE(stream->Send("late", "x"));
  EXPECT_TRUE(Eventually([&] { return server_->connection_count() == 0; }));
}

TEST_F(SseTest, HandlerCanRefuseTheStream) {
  StartServer({});
  HttpClient client("127.0.0.1", server_->port());
  auto refused = client.Get("/events/unknown");
  EXPECT_EQ(refused.status, 404);
  EXPECT_NE(refused.body.find("no such user"), std::string::npos);
  EXPECT_EQ(StreamCount(), 0u);
}

TEST_F(SseTest, ServerCloseEndsTheStreamAfterQueuedEvents) {
  StartServer({});
  RawConnection raw(server_->port());
  raw.Send(kSubscribe);
  raw.ReadUntil("data: u1\n\n");
  ASSERT_TRUE(Eventually([&] { return StreamCount() == 1; }));
  auto stream = StreamAt(0);
  stream->Send("last", "bye");
  stream->Close();
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(raw.WaitForClose());
  EXPECT_NE(raw.received().find("event: last\ndata: bye\n\n"), std::string::npos);
}

TEST_F(SseTest, SlowClientIsDisconnected) {
  StartServer(Options([&](HttpServerOptions& o) { o.sse_max_pending_bytes = 64 * 1024; }));
  RawConnection raw(server_->port());
  raw.Send(kSubscribe);
  raw.ReadUntil("data: u1\n\n");
  ASSERT_TRUE(Eventually([&] { return StreamCount() == 1; }));
  auto stream = StreamAt(0);
  // The client reads nothing more: socket buffers fill, then the server's queue passes the cap.
  const std::string chunk(16 * 1024, 'p');
  for (int i = 0; i < 2000 && !stream->closed(); ++i) {
    stream->Send("p", chunk);
    if (i % 50 == 0) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(Eventually([&] { return stream->closed(); }));
}

TEST_F(SseTest, StopClosesStreamsAndTheyOutliveTheServer) {
  StartServer({});
  RawConnection raw(server_->port());
  raw.Send(kSubscribe);
  raw.ReadUntil("data: u1\n\n");
  ASSERT_TRUE(Eventually([&] { return StreamCount() == 1; }));
  auto stream = StreamAt(0);
  server_->Stop();
  server_.reset();
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Send("after", "stop"));
  stream->Close();
  EXPECT_TRUE(raw.WaitForClose());
}

TEST_F(SseTest, ManyStreamsAndSendersAtOnce) {
  StartServer(Options([&](HttpServerOptions& o) { o.io_threads = 2; }));
  constexpr int kClients = 8;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawConnection>(server_->port()));
    clients.back()->Send(kSubscribe);
  }
  ASSERT_TRUE(Eventually([&] { return StreamCount() == kClients; }));
  std::vector<std::thread> senders;
  for (int i = 0; i < kClients; ++i) {
    senders.emplace_back([&, i] {
      auto stream = StreamAt(static_cast<size_t>(i));
      for (int n = 0; n < 100; ++n) stream->Send("", "m" + std::to_string(n));
    });
  }
  for (auto& sender : senders) sender.join();
  for (auto& client : clients)
    EXPECT_NE(client->ReadUntil("data: m99\n\n").find("data: m99\n\n"), std::string::npos);
}

}  // namespace
}  // namespace brook::http
