#include "router.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "brook/cluster/rest/url.h"

namespace brook::http::detail {

bool Router::Add(const std::string& method, std::string_view pattern, size_t payload,
                 std::string* error) {
  auto fail = [&](std::string message) {
    if (error) *error = "route " + method + " " + std::string(pattern) + ": " + message;
    return false;
  };
  if (method.empty()) return fail("empty method");
  if (pattern.empty() || pattern.front() != '/') return fail("pattern must start with '/'");
  Entry entry{method, {}, payload};
  std::set<std::string> names;
  for (size_t begin = 1; begin <= pattern.size();) {
    size_t end = std::min(pattern.find('/', begin), pattern.size());
    std::string_view text = pattern.substr(begin, end - begin);
    begin = end + 1;
    if (text.empty()) continue;
    if (text.front() == '{' || text.back() == '}') {
      std::string_view name = text.substr(1, text.size() >= 2 ? text.size() - 2 : 0);
      bool valid = text.size() >= 3 && text.front() == '{' && text.back() == '}' &&
                   std::all_of(name.begin(), name.end(), [](unsigned char c) {
                     return std::isalnum(c) || c == '_' || c == '-';
                   });
      if (!valid) return fail("malformed capture '" + std::string(text) + "'");
      if (!names.emplace(name).second) return fail("capture {" + std::string(name) + "} twice");
      entry.segments.push_back({std::string(name), true});
    } else {
      if (text.find_first_of("{}") != std::string_view::npos)
        return fail("braces inside a literal segment");
      entry.segments.push_back({std::string(text), false});
    }
  }
  for (const Entry& other : entries_) {
    if (other.method != method || other.segments.size() != entry.segments.size()) continue;
    bool same = std::equal(other.segments.begin(), other.segments.end(), entry.segments.begin(),
                           [](const Segment& a, const Segment& b) {
                             return a.capture == b.capture && (a.capture || a.text == b.text);
                           });
    if (same) return fail("already routed");
  }
  entries_.push_back(std::move(entry));
  return true;
}

bool Router::Matches(const Entry& entry, const std::vector<std::string>& segments) {
  if (entry.segments.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i)
    if (!entry.segments[i].capture && entry.segments[i].text != segments[i]) return false;
  return true;
}

bool Router::MoreSpecific(const Entry& a, const Entry& b) {
  for (size_t i = 0; i < a.segments.size(); ++i)
    if (a.segments[i].capture != b.segments[i].capture) return !a.segments[i].capture;
  return false;
}

Router::Match Router::Find(std::string_view method, const std::vector<std::string>& segments) const {
  const Entry* best = nullptr;
  std::set<std::string> allowed;
  for (const Entry& entry : entries_) {
    if (!Matches(entry, segments)) continue;
    if (entry.method != method) {
      allowed.insert(entry.method);
    } else if (!best || MoreSpecific(entry, *best)) {
      best = &entry;
    }
  }
  Match match;
  if (best) {
    match.outcome = Outcome::kFound;
    match.payload = best->payload;
    for (size_t i = 0; i < segments.size(); ++i)
      if (best->segments[i].capture) match.params[best->segments[i].text] = segments[i];
  } else if (!allowed.empty()) {
    match.outcome = Outcome::kMethodNotAllowed;
    for (const std::string& allowed_method : allowed)
      match.allow += (match.allow.empty() ? "" : ", ") + allowed_method;
  }
  return match;
}

bool SplitPath(std::string_view raw_path, std::vector<std::string>* segments) {
  segments->clear();
  for (size_t begin = 0; begin <= raw_path.size();) {
    size_t end = std::min(raw_path.find('/', begin), raw_path.size());
    std::string_view raw = raw_path.substr(begin, end - begin);
    begin = end + 1;
    if (raw.empty()) continue;
    auto decoded = PercentDecode(raw);
    if (!decoded) return false;
    segments->push_back(std::move(*decoded));
  }
  return true;
}

}  // namespace brook::http::detail
