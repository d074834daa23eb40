// The request and response that HTTP handlers see (brook::http), free of Asio and Beast so that
// route code compiles fast. HttpServer (http_server.h) fills a Request from the wire and writes
// the Response a handler returns; errors are bodies shaped like Flink's REST errors:
// {"errors":["message"]}.
//
// Threading: plain values; a handler gets its Request by const reference, valid for the call.
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace brook::http {

struct Request {
  std::string method;  // upper case as sent: "GET", "POST", "PATCH", ...
  std::string target;  // as sent, e.g. "/jobs/a%20b?x=1"
  std::string path;    // percent-decoded, without the query: "/jobs/a b"
  std::map<std::string, std::string> query;   // decoded; "?flag" gives flag -> ""
  std::map<std::string, std::string> params;  // captures of the route pattern: {id} -> "a b"
  std::map<std::string, std::string> headers;  // names lower case; repeated headers joined by ", "
  std::string content_type;                    // the Content-Type header, "" if none
  std::string body;

  // The header's value, or `fallback` if absent. `name` in lower case.
  std::string Header(const std::string& name, std::string fallback = {}) const;
  // The query parameter's value, or `fallback` if absent.
  std::string Query(const std::string& name, std::string fallback = {}) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers (Content-Type and Content-Length are set from the fields above).
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Json(const boost::json::value& value, int status = 200);
  // {"errors":["message"]}, the shape of Flink's REST errors.
  static Response Error(int status, std::string message);
  static Response Text(std::string body, std::string content_type = "text/plain; charset=utf-8",
                       int status = 200);
};

// Thrown by a handler to answer with `status` and an error body carrying what().
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// A route's handler. Runs on a handler thread of the server, never on an I/O thread, so it may
// block (briefly: it holds one of HttpServerOptions::handler_threads). It may throw HttpError
// for an error status; any other exception becomes 500 with its message and is logged.
using Handler = std::function<Response(const Request&)>;

// The standard reason phrase of an HTTP status ("Not Found"), "" if unknown.
const char* ReasonPhrase(int status);

}  // namespace brook::http
