// HttpClient against a real HttpServer (and a raw listener for misbehaving servers).
#include "brook/cluster/rest/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "brook/cluster/rest/http_server.h"
#include "brook/cluster/rest/multipart.h"

namespace brook::http {
namespace {

// Options with some fields set: designated initializers would leave others unnamed (-Wextra).
RouteOptions BodyLimit(size_t bytes) {
  RouteOptions options;
  options.max_body_bytes = bytes;
  return options;
}

template <typename Set>
HttpServerOptions Options(Set set) {
  HttpServerOptions options;
  set(options);
  return options;
}

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A listener that accepts connections and never answers: for timeouts.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 4);
    socklen_t size = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Route("POST", "/jars/upload", [](const Request& request) {
      std::string error;
      auto parts = ParseMultipartFormData(request.content_type, request.body, &error);
      if (!parts) throw HttpError(400, error);
      const MultipartPart* jar = FindPart(*parts, "jarfile");
      if (!jar) throw HttpError(400, "no jarfile part");
      return Response::Json(boost::json::object{{"filename", jar->filename},
                                                {"size", static_cast<int64_t>(jar->data.size())},
                                                {"sum", Checksum(jar->data)}});
    }, BodyLimit(8 << 20));
    server_.Route("GET", "/who", [](const Request& request) {
      return Response::Text(request.Header("authorization", "nobody"));
    });
    server_.Route("DELETE", "/things/{id}", [](const Request& request) {
      return Response::Text("deleted " + request.params.at("id"));
    });
    server_.Route("PATCH", "/things/{id}", [](const Request& request) {
      return Response::Text("patched " + request.params.at("id") + " " + request.body + " " +
                            request.content_type);
    });
    server_.Route("GET", "/big", [](const Request&) { return Response::Text(std::string(100000, 'b')); });
    std::string error;
    ASSERT_TRUE(server_.Start(&error)) << error;
  }

  static int64_t Checksum(const std::string& data) {
    int64_t sum = 0;
    for (unsigned char c : data) sum = sum * 31 + c;
    return sum;
  }

  HttpServer server_{Options([&](HttpServerOptions& o) { o.idle_timeout = 500ms; })};
};

TEST_F(HttpClientTest, UploadsAFileAsMultipart) {
  fs::path file = fs::temp_directory_path() / ("brook_upload_" + std::to_string(::getpid()) + ".so");
  std::string data;
  for (size_t i = 0; i < (size_t{3} << 20); ++i) data.push_back(static_cast<char>(i * 7919 % 251));
  std::ofstream(file, std::ios::binary) << data;
  HttpClient client("127.0.0.1", server_.port());
  auto result = client.PostFile("/jars/upload", file);
  fs::remove(file);
  ASSERT_EQ(result.status, 200) << result.body << result.error;
  auto json = boost::json::parse(result.body);
  EXPECT_EQ(json.at("filename").as_string(), file.filename().string());
  EXPECT_EQ(json.at("size").as_int64(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(json.at("sum").as_int64(), Checksum(data));
}

TEST_F(HttpClientTest, UnreadableFileSendsNothing) {
  HttpClient client("127.0.0.1", server_.port());
  auto result = client.PostFile("/jars/upload", "/nonexistent/brook.so");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("cannot read"), std::string::npos);
}

TEST_F(HttpClientTest, SendsTheTokenAndEveryMethod) {
  HttpClient client("127.0.0.1", server_.port(), "tok");
  EXPECT_EQ(client.Get("/who").body, "Bearer tok");
  EXPECT_EQ(HttpClient("127.0.0.1", server_.port()).Get("/who").body, "nobody");
  EXPECT_EQ(client.Delete("/things/7").body, "deleted 7");
  EXPECT_EQ(client.Patch("/things/8", "{}").body, "patched 8 {} application/json");
  EXPECT_EQ(client.Patch("/things/9").body, "patched 9  ");
  EXPECT_EQ(client.Get("/big").body.size(), 100000u);
  auto bad = client.Send("GET", "/who", "", "", {{"X-Bad", "a\r\nb"}});
  EXPECT_EQ(bad.status, 0);
  EXPECT_FALSE(bad.error.empty());
}

TEST_F(HttpClientTest, ReconnectsAfterTheServerClosedAnIdleConnection) {
  HttpClient client("127.0.0.1", server_.port());
  EXPECT_EQ(client.Get("/who").status, 200);
  EXPECT_EQ(server_.connection_count(), 1u);
  // Past the server's idle timeout the kept connection is gone; the client notices and retries.
  for (int i = 0; i < 100 && server_.connection_count() > 0; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(server_.connection_count(), 0u);
  EXPECT_EQ(client.Get("/who").status, 200);
}

TEST_F(HttpClientTest, OversizedResponseFails) {
  HttpClient client("127.0.0.1", server_.port());
  client.set_max_response_bytes(1000);
  auto result = client.Get("/big");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("larger than 1000"), std::string::npos) << result.error;
  client.set_max_response_bytes(1 << 20);
  EXPECT_EQ(client.Get("/big").status, 200);
}

TEST(HttpClient, ReportsConnectionRefused) {
  uint16_t port;
  {
    HttpServer server{HttpServerOptions{}};
    ASSERT_TRUE(server.Start());
    port = server.port();
  }
  HttpClient client("127.0.0.1", port, {}, 2s);
  auto result = client.Get("/");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("cannot connect"), std::string::npos) << result.error;
}

TEST(HttpClient, TimesOutOnASilentServer) {
  SilentListener silent;
  HttpClient client("127.0.0.1", silent.port(), {}, 300ms);
  auto result = client.Get("/");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace brook::http
