#include "brook/cluster/rest/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fstream>
#include <iterator>

#include "brook/cluster/rest/multipart.h"

namespace brook::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

}  // namespace

// One kept-alive connection. Blocking calls run the private io_context until the operation
// completes; beast::tcp_stream's deadline bounds each one.
class HttpClient::Connection {
 public:
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool open = false;

  // Runs `start(handler)` to completion on the io_context and returns its error.
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    open = false;
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::string token,
                       std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), token_(std::move(token)), timeout_(timeout) {}

HttpClient::~HttpClient() {
  if (connection_ && connection_->open) connection_->Close();
}

HttpClient::Result HttpClient::Get(const std::string& target) { return Send("GET", target); }

HttpClient::Result HttpClient::Post(const std::string& target, std::string body,
                                    const std::string& content_type) {
  return Send("POST", target, std::move(body), content_type);
}

HttpClient::Result HttpClient::Patch(const std::string& target, std::string body,
                                     const std::string& content_type) {
  // No Content-Type on an empty body (cancel is a bare PATCH). Decided before `body` moves.
  const std::string type = body.empty() ? std::string() : content_type;
  return Send("PATCH", target, std::move(body), type);
}

HttpClient::Result HttpClient::Delete(const std::string& target) { return Send("DELETE", target); }

HttpClient::Result HttpClient::PostFile(const std::string& target,
                                        const std::filesystem::path& path,
                                        const std::string& field_name) {
  std::ifstream in(path, std::ios::binary);
  std::string data;
  if (in) data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    Result failed;
    failed.error = "cannot read " + path.string();
    return failed;
  }
  EncodedMultipart multipart = EncodeMultipartFile(field_name, path.filename().string(), data);
  return Send("POST", target, std::move(multipart.body), multipart.content_type);
}

HttpClient::Result HttpClient::Send(const std::string& method, const std::string& target,
                                    std::string body, const std::string& content_type,
                                    const std::map<std::string, std::string>& headers) {
  Result result;
  bhttp::request<bhttp::string_body> request;
  request.method_string(method);
  request.target(target);
  request.version(11);
  request.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  request.set(bhttp::field::user_agent, "brook");
  if (!token_.empty()) request.set(bhttp::field::authorization, "Bearer " + token_);
  if (!content_type.empty()) request.set(bhttp::field::content_type, content_type);
  for (const auto& [name, value] : headers) {
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      result.error = "invalid request header '" + name + "'";
      return result;
    }
    request.set(name, value);
  }
  request.body() = std::move(body);
  request.keep_alive(true);
  request.prepare_payload();

  if (!connection_) connection_ = std::make_unique<Connection>();
  Connection& connection = *connection_;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  // A reused connection may have been closed by the server while idle: then retry once on a
  // fresh one. The server cannot have acted on a request it never got a byte of.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = connection.open;
    beast::error_code ec;
    if (!connection.open) {
      asio::ip::tcp::resolver resolver(connection.io);
      auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
      if (ec) {
        result.error = "cannot resolve " + host_ + ": " + ec.message();
        return result;
      }
      connection.stream.expires_at(deadline);
      ec = connection.Run([&](auto handler) { connection.stream.async_connect(endpoints, handler); });
      if (ec) {
        connection.Close();
        result.error = "cannot connect to " + host_ + ":" + std::to_string(port_) + ": " +
                       (ec == beast::error::timeout ? "timed out" : ec.message());
        return result;
      }
      connection.open = true;
    }
    connection.stream.expires_at(deadline);
    beast::error_code write_error =
        connection.Run([&](auto handler) { bhttp::async_write(connection.stream, request, handler); });
    // Even when the write failed, the server may have answered (413 for a body it would not
    // read, say) before it closed: read what it sent.
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_bytes_);
    connection.stream.expires_at(deadline);
    beast::error_code read_error = connection.Run([&](auto handler) {
      bhttp::async_read(connection.stream, connection.buffer, parser, handler);
    });
    if (read_error) {
      connection.Close();
      const bool nothing_received = !parser.got_some();
      const bool stale = read_error == bhttp::error::end_of_stream ||
                         read_error == asio::error::connection_reset ||
                         read_error == asio::error::eof || write_error == asio::error::broken_pipe ||
                         write_error == asio::error::connection_reset;
      if (reused && nothing_received && stale && attempt == 0) continue;
      beast::error_code reported = write_error ? write_error : read_error;
      result.error = method + " " + target + ": " +
                     (reported == beast::error::timeout ? std::string("timed out")
                      : reported == bhttp::error::body_limit
                          ? "response larger than " + std::to_string(max_response_bytes_) + " bytes"
                          : reported.message());
      return result;
    }
    auto response = parser.release();
    result.status = static_cast<int>(response.result_int());
    for (const auto& field : response) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto [it, inserted] = result.headers.emplace(std::move(name), std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    result.content_type = std::string(response[bhttp::field::content_type]);
    result.body = std::move(response.body());
    if (write_error || !response.keep_alive()) connection.Close();
    return result;
  }
  return result;  // not reached: the second attempt returns
}

}  // namespace brook::http
