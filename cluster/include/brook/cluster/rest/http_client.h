// HttpClient: a blocking HTTP/1.1 client for the brook CLI and tests, speaking to HttpServer
// (or any HTTP server). It keeps one connection alive between requests and reconnects, retrying
// once, when the server closed it while idle. Every request is bounded by the timeout: connect,
// send and receive together.
//
// Threading: one thread at a time (give each thread its own client).
// Life cycle: constructed (nothing connects yet) -> requests -> destroyed (closes the connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace brook::http {

class HttpClient {
 public:
  struct Result {
    int status = 0;  // 0: the request did not complete, see `error`
    std::string body;
    std::string content_type;
    std::map<std::string, std::string> headers;  // names lower case
    std::string error;                           // transport error (status 0), "" otherwise
    bool ok() const { return status >= 200 && status < 300; }
  };

  // `token`, if not empty, is sent as "Authorization: Bearer <token>" with every request.
  HttpClient(std::string host, uint16_t port, std::string token = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is the encoded path and query ("/jobs?state=running"); see url.h PercentEncode.
  Result Get(const std::string& target);
  Result Post(const std::string& target, std::string body,
              const std::string& content_type = "application/json");
  Result Patch(const std::string& target, std::string body = {},
               const std::string& content_type = "application/json");
  Result Delete(const std::string& target);
  // Uploads the file at `path` as multipart/form-data with one part named `field_name` (Flink's
  // POST /jars/upload takes "jarfile"), filename = the path's file name. A file that cannot be
  // read gives status 0 and the reason, and sends nothing.
  Result PostFile(const std::string& target, const std::filesystem::path& path,
                  const std::string& field_name = "jarfile");
  // Any method, body and headers: the general form of the above.
  Result Send(const std::string& method, const std::string& target, std::string body = {},
              const std::string& content_type = {},
              const std::map<std::string, std::string>& headers = {});

  // Largest response body accepted; a larger one fails the request (status 0).
  void set_max_response_bytes(size_t bytes) { max_response_bytes_ = bytes; }

 private:
  class Connection;
  const std::string host_;
  const uint16_t port_;
  const std::string token_;
  const std::chrono::milliseconds timeout_;
  size_t max_response_bytes_ = size_t{256} << 20;
  std::unique_ptr<Connection> connection_;  // null until the first request
};

}  // namespace brook::http
