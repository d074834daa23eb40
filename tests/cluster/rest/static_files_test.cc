// HttpServer::ServeDirectory: the web UI's files, and nothing outside their directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "brook/cluster/rest/http_client.h"
#include "brook/cluster/rest/http_server.h"
#include "raw_connection.h"
#include "static_files.h"

namespace brook::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("brook_static_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    WriteFile(root_ / "ui" / "index.html", "<h1>Brook</h1>");
    WriteFile(root_ / "ui" / "js" / "app.js", "console.log(1)");
    WriteFile(root_ / "ui" / "docs" / "index.html", "docs");
    WriteFile(root_ / "ui" / "logo.SVG", "<svg/>");
    WriteFile(root_ / "ui" / "data.bin", "bin");
    WriteFile(root_ / "secret.txt", "top secret");
    fs::create_symlink(root_ / "secret.txt", root_ / "ui" / "escape.txt");
    fs::create_directories(root_ / "ui" / "empty");

    server_.ServeDirectory("/", root_ / "ui");
    server_.Route("GET", "/overview", [](const Request&) { return Response::Text("api"); });
    std::string error;
    ASSERT_TRUE(server_.Start(&error)) << error;
  }
  void TearDown() override {
    server_.Stop();
    fs::remove_all(root_);
  }
  // A request sent as is: HttpClient would not send some of these targets.
  std::string Raw(const std::string& target) {
    testing::RawConnection raw(server_.port());
    raw.Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return raw.ReadResponse();
  }

  fs::path root_;
  HttpServer server_{HttpServerOptions{}};
};

TEST_F(StaticFilesTest, ServesFilesWithContentTypes) {
  HttpClient client("127.0.0.1", server_.port());
  auto index = client.Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<h1>Brook</h1>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index.headers.at("cache-control"), "no-cache");
  auto script = client.Get("/js/app.js");
  EXPECT_EQ(script.body, "console.log(1)");
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(client.Get("/logo.SVG").content_type, "image/svg+xml");
  EXPECT_EQ(client.Get("/data.bin").content_type, "application/octet-stream");
  EXPECT_EQ(client.Get("/docs").body, "docs");
  EXPECT_EQ(client.Get("/docs/").body, "docs");
  EXPECT_EQ(client.Get("/overview").body, "api");  // routes come first
}

TEST_F(StaticFilesTest, MissingFilesAre404AndOtherMethods405) {
  HttpClient client("127.0.0.1", server_.port());
  EXPECT_EQ(client.Get("/nope.js").status, 404);
  EXPECT_EQ(client.Get("/empty").status, 404);  // a directory without index.html
  auto post = client.Post("/index.html", "x");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers.at("allow"), "GET");
}

TEST_F(StaticFilesTest, NothingOutsideTheDirectory) {
  for (std::string target : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                             "/..%2Fsecret.txt", "/js/..%2f..%2fsecret.txt", "/escape.txt",
                             "/..\\secret.txt", "/%2E%2E%5Csecret.txt"}) {
    std::string response = Raw(target);
    EXPECT_EQ(response.find("top secret"), std::string::npos) << target;
    EXPECT_NE(response.find("HTTP/1.1 404"), std::string::npos) << target << ": " << response;
  }
  // "." and empty segments are harmless but still refused or normalised, never escaping.
  EXPECT_NE(Raw("//js//app.js").find("console.log"), std::string::npos);
}

TEST(StaticFilesUnit, MountsByLongestPrefix) {
  detail::StaticFiles files;
  auto dir = fs::temp_directory_path() / ("brook_static_unit_" + std::to_string(::getpid()));
  WriteFile(dir / "a" / "x.txt", "from a");
  WriteFile(dir / "b" / "x.txt", "from b");
  files.Mount("/", dir / "a");
  files.Mount("/static/b", dir / "b");
  EXPECT_EQ(files.Serve({"x.txt"}).body, "from a");
  EXPECT_EQ(files.Serve({"static", "b", "x.txt"}).body, "from b");
  EXPECT_EQ(files.Serve({"static", "b", "y.txt"}).status, 404);
  EXPECT_TRUE(files.Covers({"anything"}));
  fs::remove_all(dir);

  detail::StaticFiles prefixed;
  prefixed.Mount("/ui", dir);
  EXPECT_FALSE(prefixed.Covers({"api"}));
  EXPECT_TRUE(prefixed.Covers({"ui"}));
  EXPECT_EQ(detail::ContentTypeFor("a.CSS"), "text/css; charset=utf-8");
}

}  // namespace
}  // namespace brook::http
