#include "brook/cluster/rest/http_message.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace brook::http {

std::string Request::Header(const std::string& name, std::string fallback) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::move(fallback) : it->second;
}

std::string Request::Query(const std::string& name, std::string fallback) const {
  auto it = query.find(name);
  return it == query.end() ? std::move(fallback) : it->second;
}

Response Response::Json(const boost::json::value& value, int status) {
  Response response;
  response.status = status;
  response.body = boost::json::serialize(value);
  return response;
}

Response Response::Error(int status, std::string message) {
  boost::json::object body;
  body["errors"] = boost::json::array{boost::json::value(message)};
  return Json(body, status);
}

Response Response::Text(std::string body, std::string content_type, int status) {
  Response response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace brook::http
