// Router: matches a request's method and path segments against route patterns such as
// "/jobs/{id}/vertices/{vid}". Of the patterns that match, the most specific wins: the one with
// a literal where the others capture, at the first segment where they differ (so "/jobs/overview"
// beats "/jobs/{id}"). A path some pattern matches, but with none for the method, is "method not
// allowed", with the methods it does allow.
//
// Threading: Add() before concurrent use; Find() from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace brook::http::detail {

class Router {
 public:
  // Adds `pattern` for `method`, answering Find() with `payload`. False, with the reason in
  // *error, if the pattern is malformed (not absolute, a bad or repeated capture name) or
  // already routed for this method.
  bool Add(const std::string& method, std::string_view pattern, size_t payload, std::string* error);

  enum class Outcome { kFound, kMethodNotAllowed, kNotFound };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    size_t payload = 0;                         // kFound
    std::map<std::string, std::string> params;  // kFound: capture name -> segment
    std::string allow;                          // kMethodNotAllowed: "GET, POST"
  };
  // `segments` are the decoded, non-empty segments of the path ("/jobs/x/" -> {"jobs", "x"}).
  Match Find(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the capture's name
    bool capture = false;
  };
  struct Entry {
    std::string method;
    std::vector<Segment> segments;
    size_t payload = 0;
  };
  static bool Matches(const Entry& entry, const std::vector<std::string>& segments);
  // True if `a` is more specific than `b` (both matching the same path).
  static bool MoreSpecific(const Entry& a, const Entry& b);

  std::vector<Entry> entries_;
};

// Splits a raw (still encoded) path into decoded segments, dropping empty ones. False if a
// segment's percent-encoding is malformed.
bool SplitPath(std::string_view raw_path, std::vector<std::string>* segments);

}  // namespace brook::http::detail
