// HttpServer against the real HttpClient and raw sockets, on 127.0.0.1.
#include "brook/cluster/rest/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <boost/json/value.hpp>
#include <thread>

#include "brook/cluster/rest/http_client.h"
#include "raw_connection.h"

namespace brook::http {
namespace {

// Options with some fields set: designated initializers would leave others unnamed (-Wextra).
RouteOptions BodyLimit(size_t bytes) {
  RouteOptions options;
  options.max_body_bytes = bytes;
  return options;
}

RouteOptions Mutating() {
  RouteOptions options;
  options.mutating = true;
  return options;
}

template <typename Set>
HttpServerOptions Options(Set set) {
  HttpServerOptions options;
  set(options);
  return options;
}

using testing::RawConnection;
using namespace std::chrono_literals;

constexpr char kToken[] = "s3cret";

std::string FirstError(const std::string& body) {
  return boost::json::value_to<std::string>(boost::json::parse(body).at("errors").at(0));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->Route("GET", "/overview", [](const Request&) {
      return Response::Json(boost::json::object{{"taskmanagers", 2}});
    });
    server_->Route("GET", "/jobs/{id}", [](const Request& request) {
      return Response::Json(boost::json::object{{"jid", request.params.at("id")},
                                                {"path", request.path},
                                                {"mode", request.Query("mode", "none")}});
    });
    server_->Route("GET", "/jobs/overview",
                   [](const Request&) { return Response::Text("overview", "text/plain"); });
    server_->Route("PATCH", "/jobs/{id}", [this](const Request& request) {
      ++cancels_;
      return Response::Json(boost::json::object{{"cancelled", request.params.at("id")}}, 202);
    });
    server_->Route("POST", "/echo", [](const Request& request) {
      Response response = Response::Text(request.body, request.content_type);
      response.headers.emplace_back("X-Method", request.method);
      return response;
    }, BodyLimit(1024));
    server_->Route("GET", "/secret", [](const Request&) { return Response::Text("hidden"); },
                   Mutating());
    server_->Route("GET", "/throws/http",
                   [](const Request&) -> Response { throw HttpError(409, "job is finished"); });
    server_->Route("GET", "/throws/std",
                   [](const Request&) -> Response { throw std::runtime_error("boom"); });
    server_->Route("GET", "/throws/int", [](const Request&) -> Response { throw 42; });
    server_->Route("GET", "/bad-status", [](const Request&) { return Response::Text("x", "t", 42); });
    server_->Route("GET", "/bad-header", [](const Request&) {
      Response response = Response::Text("ok");
      response.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: x=1");
      return response;
    });
    server_->Route("GET", "/blocked", [this](const Request&) {
      blocked_.wait();  // until the test lets it go
      return Response::Text("released");
    });
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }
  HttpClient Client(std::string token = {}) { return HttpClient("127.0.0.1", server_->port(), token, 10s); }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> cancels_{0};
  std::promise<void> release_;
  std::shared_future<void> blocked_ = release_.get_future().share();
};

TEST_F(HttpServerTest, ServesJsonRoutesWithCapturesAndQuery) {
  StartServer();
  auto client = Client();
  auto overview = client.Get("/overview");
  EXPECT_EQ(overview.status, 200);
  EXPECT_EQ(overview.content_type, "application/json");
  EXPECT_EQ(boost::json::parse(overview.body).at("taskmanagers").as_int64(), 2);
  EXPECT_EQ(overview.headers.at("server"), "brook");

  auto job = client.Get("/jobs/a%20b?mode=fast+now&x");
  ASSERT_EQ(job.status, 200) << job.body;
  auto json = boost::json::parse(job.body);
  EXPECT_EQ(json.at("jid").as_string(), "a b");
  EXPECT_EQ(json.at("path").as_string(), "/jobs/a b");
  EXPECT_EQ(json.at("mode").as_string(), "fast now");
}

TEST_F(HttpServerTest, LiteralRouteWinsOverCapture) {
  StartServer();
  auto client = Client();
  EXPECT_EQ(client.Get("/jobs/overview").body, "overview");
  EXPECT_EQ(boost::json::parse(client.Get("/jobs/x").body).at("jid").as_string(), "x");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  StartServer();
  auto client = Client();
  auto missing = client.Get("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/json");
  EXPECT_EQ(FirstError(missing.body), "Not found: /nope");
  auto wrong = client.Delete("/jobs/x");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at("allow"), "GET, PATCH");
  EXPECT_FALSE(FirstError(wrong.body).empty());
}

TEST_F(HttpServerTest, MalformedTargetsAre400) {
  StartServer();
  auto client = Client();
  EXPECT_EQ(client.Get("/jobs/%zz").status, 400);
  EXPECT_EQ(client.Get("/jobs/x?mode=%4").status, 400);
  EXPECT_EQ(client.Get("/jobs/a%00b").status, 400);
  // The connection stays usable after a refusal without a body.
  EXPECT_EQ(client.Get("/overview").status, 200);
}

TEST_F(HttpServerTest, TokenGuardsMutatingRoutesOnly) {
  StartServer(Options([&](HttpServerOptions& o) { o.token = kToken; }));
  auto anonymous = Client();
  EXPECT_EQ(anonymous.Get("/overview").status, 200);
  auto refused = anonymous.Patch("/jobs/j1");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(anonymous.Get("/secret").status, 401);  // a GET marked mutating
  EXPECT_EQ(cancels_, 0);
  EXPECT_EQ(Client("wrong").Patch("/jobs/j1").status, 401);
  EXPECT_EQ(Client("s3cre").Patch("/jobs/j1").status, 401);

  auto authorized = Client(kToken);
  auto cancelled = authorized.Patch("/jobs/j1");
  EXPECT_EQ(cancelled.status, 202);
  EXPECT_EQ(boost::json::parse(cancelled.body).at("cancelled").as_string(), "j1");
  EXPECT_EQ(authorized.Get("/secret").body, "hidden");
  EXPECT_EQ(cancels_, 1);
  // The scheme is case-insensitive.
  auto lower = anonymous.Send("PATCH", "/jobs/j2", "", "", {{"Authorization", "bearer s3cret"}});
  EXPECT_EQ(lower.status, 202);
}

TEST_F(HttpServerTest, ClosedReadsNeedTheTokenEverywhere) {
  StartServer(Options([&](HttpServerOptions& o) { o.token = kToken; o.open_reads = false; }));
  EXPECT_EQ(Client().Get("/overview").status, 401);
  EXPECT_EQ(Client().Get("/nope").status, 401);  // no route discovery without the token
  EXPECT_EQ(Client(kToken).Get("/overview").status, 200);
  EXPECT_EQ(Client(kToken).Get("/nope").status, 404);
}

TEST_F(HttpServerTest, NoTokenConfiguredMeansOpen) {
  StartServer();
  EXPECT_EQ(Client().Patch("/jobs/j1").status, 202);
}

TEST_F(HttpServerTest, EchoesBodiesAndExtraHeaders) {
  StartServer();
  auto client = Client();
  auto echoed = client.Post("/echo", "{\"a\":1}");
  EXPECT_EQ(echoed.status, 200);
  EXPECT_EQ(echoed.body, "{\"a\":1}");
  EXPECT_EQ(echoed.content_type, "application/json");
  EXPECT_EQ(echoed.headers.at("x-method"), "POST");
}

TEST_F(HttpServerTest, OversizedBodyIs413BeforeItIsRead) {
  StartServer();
  // The client sends a body over the limit; the server answers 413 and closes.
  auto client = Client();
  auto refused = client.Post("/echo", std::string(5000, 'x'));
  EXPECT_EQ(refused.status, 413);
  EXPECT_NE(FirstError(refused.body).find("1024"), std::string::npos);
  EXPECT_EQ(client.Post("/echo", std::string(1024, 'y')).status, 200);  // reconnects

  // On a raw socket: only the header goes out, announcing 100 MB; the answer comes at once.
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc"));
  std::string response = raw.ReadResponse();
  EXPECT_NE(response.find("HTTP/1.1 413"), std::string::npos) << response;
  EXPECT_TRUE(raw.WaitForClose());
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  StartServer();
  RawConnection raw(server_->port());
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += "200\r\n" + std::string(512, 'z') + "\r\n";
  request += "0\r\n\r\n";
  raw.Send(request);
  std::string response = raw.ReadResponse();
  EXPECT_NE(response.find("HTTP/1.1 413"), std::string::npos) << response;
  EXPECT_TRUE(raw.WaitForClose());

  RawConnection small(server_->port());
  small.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  response = small.ReadResponse();
  EXPECT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
  EXPECT_NE(response.find("\r\n\r\nabcde"), std::string::npos) << response;
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredOnlyForAcceptedRequests) {
  StartServer();
  RawConnection accepted(server_->port());
  accepted.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(accepted.ReadUntil("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  accepted.Send("hello");
  std::string response = accepted.ReadUntil("hello");
  EXPECT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;

  RawConnection refused(server_->port());
  refused.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  response = refused.ReadResponse();
  EXPECT_EQ(response.find("100 Continue"), std::string::npos) << response;
  EXPECT_NE(response.find("HTTP/1.1 413"), std::string::npos) << response;
}

TEST_F(HttpServerTest, MalformedHttpIs400AndCloses) {
  StartServer();
  for (std::string garbage : {"GARBAGE\r\n\r\n", "GET /overview HTTP/9.9\r\n\r\n",
                              "GET /overview HTTP/1.1\r\nBad Header\r\n\r\n",
                              "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    RawConnection raw(server_->port());
    raw.Send(garbage);
    std::string response = raw.ReadResponse();
    EXPECT_NE(response.find("HTTP/1.1 400"), std::string::npos) << garbage << " -> " << response;
    EXPECT_TRUE(raw.WaitForClose()) << garbage;
  }
  RawConnection absolute(server_->port());
  absolute.Send("GET http://host/overview HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(absolute.ReadResponse().find("HTTP/1.1 400"), std::string::npos);
  // The server is unharmed.
  EXPECT_EQ(Client().Get("/overview").status, 200);
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  RawConnection raw(server_->port());
  raw.Send("GET /overview HTTP/1.1\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n");
  EXPECT_NE(raw.ReadResponse().find("HTTP/1.1 431"), std::string::npos);
  EXPECT_TRUE(raw.WaitForClose());
}

TEST_F(HttpServerTest, HandlerExceptionsBecomeErrorResponses) {
  StartServer();
  auto client = Client();
  auto conflict = client.Get("/throws/http");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(FirstError(conflict.body), "job is finished");
  auto internal = client.Get("/throws/std");
  EXPECT_EQ(internal.status, 500);
  EXPECT_NE(FirstError(internal.body).find("boom"), std::string::npos);
  EXPECT_EQ(client.Get("/throws/int").status, 500);
  EXPECT_EQ(client.Get("/bad-status").status, 500);
  auto header = client.Get("/bad-header");
  EXPECT_EQ(header.status, 200);
  EXPECT_EQ(header.headers.count("x-evil"), 0u);
  EXPECT_EQ(header.headers.count("set-cookie"), 0u);
  EXPECT_EQ(client.Get("/overview").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesPipelinedRequestsOnOneConnection) {
  StartServer();
  RawConnection raw(server_->port());
  raw.Send("GET /overview HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /jobs/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(raw.ReadResponse().find("taskmanagers"), std::string::npos);
  EXPECT_NE(raw.ReadResponse().find("p1"), std::string::npos);
  EXPECT_NE(raw.ReadResponse().find("HTTP/1.1 404"), std::string::npos);
  EXPECT_EQ(server_->connection_count(), 1u);
  raw.Send("GET /overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(raw.ReadResponse().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_TRUE(raw.WaitForClose());
}

TEST_F(HttpServerTest, IdleConnectionsAreClosed) {
  StartServer(Options([&](HttpServerOptions& o) { o.idle_timeout = 300ms; }));
  RawConnection idle(server_->port());
  EXPECT_TRUE(idle.WaitForClose(5s));
  RawConnection half(server_->port());
  half.Send("GET /overview HTTP/1.1\r\n");  // never finishes its header
  EXPECT_TRUE(half.WaitForClose(5s));
  RawConnection body(server_->port());
  body.Send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");  // stalls in the body
  EXPECT_TRUE(body.WaitForClose(5s));
}

TEST_F(HttpServerTest, BlockedHandlerDoesNotHoldUpOtherRequests) {
  StartServer(Options([&](HttpServerOptions& o) { o.handler_threads = 2; }));
  std::thread blocked([this] { EXPECT_EQ(Client().Get("/blocked").body, "released"); });
  // Served while the other handler is still blocked (it is released only afterwards).
  EXPECT_EQ(Client().Get("/overview").status, 200);
  release_.set_value();
  blocked.join();
}

TEST_F(HttpServerTest, ManyConcurrentClients) {
  StartServer(Options([&](HttpServerOptions& o) { o.io_threads = 2; o.handler_threads = 2; }));
  constexpr int kClients = 16;
  constexpr int kRequestsEach = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = Client();
      for (int i = 0; i < kRequestsEach; ++i) {
        std::string id = std::to_string(c) + "-" + std::to_string(i);
        auto result = client.Get("/jobs/" + id);
        if (result.status == 200 && boost::json::parse(result.body).at("jid").as_string() == id) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok, kClients * kRequestsEach);
}

TEST_F(HttpServerTest, ConnectionsOverTheCapAreClosed) {
  StartServer(Options([&](HttpServerOptions& o) { o.max_connections = 2; }));
  RawConnection first(server_->port());
  RawConnection second(server_->port());
  first.Send("GET /overview HTTP/1.1\r\n\r\n");
  second.Send("GET /overview HTTP/1.1\r\n\r\n");
  ASSERT_FALSE(first.ReadResponse().empty());
  ASSERT_FALSE(second.ReadResponse().empty());
  RawConnection third(server_->port());
  EXPECT_TRUE(third.WaitForClose());
}

TEST_F(HttpServerTest, StopClosesConnectionsAndIsIdempotent) {
  StartServer();
  RawConnection raw(server_->port());
  raw.Send("GET /overview HTTP/1.1\r\n\r\n");
  ASSERT_FALSE(raw.ReadResponse().empty());
  server_->Stop();
  EXPECT_TRUE(raw.WaitForClose());
  server_->Stop();
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST(HttpServer, RefusesBadOptionsAndABusyPort) {
  HttpServer invalid(Options([&](HttpServerOptions& o) { o.io_threads = 0; }));
  std::string error;
  EXPECT_FALSE(invalid.Start(&error));
  EXPECT_NE(error.find("io_threads"), std::string::npos);

  HttpServer first(HttpServerOptions{});
  ASSERT_TRUE(first.Start(&error)) << error;
  HttpServer second(Options([&](HttpServerOptions& o) { o.port = first.port(); }));
  EXPECT_FALSE(second.Start(&error));
  EXPECT_NE(error.find("cannot listen"), std::string::npos);
  EXPECT_FALSE(first.Start(&error));  // at most once
}

}  // namespace
}  // namespace brook::http
