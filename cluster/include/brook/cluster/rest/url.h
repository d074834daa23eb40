// URL helpers of the HTTP layer: percent-encoding (RFC 3986) and query strings
// (application/x-www-form-urlencoded, where '+' is a space). The server uses them to fill
// Request::path and Request::query; callers use PercentEncode to build targets for HttpClient.
//
// Threading: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace brook::http {

// Decodes %XX escapes; with plus_is_space also '+' to ' ' (query strings). nullopt if an escape
// is malformed ("%4", "%zz") or decodes to a NUL byte, which no path or parameter may contain.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

// Escapes every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~).
std::string PercentEncode(std::string_view text);

// "a=1&b=x%20y&flag" -> {a:1, b:"x y", flag:""}. A repeated name keeps its last value; empty
// pieces ("a=1&&b=2") are skipped. nullopt if any name or value is malformed.
std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace brook::http
