// StaticFiles: the web UI's files, served from directories mounted at URL prefixes
// (HttpServer::ServeDirectory). A request resolves to a regular file inside the mounted
// directory or to nothing: "." and ".." segments, segments holding a decoded '/' or '\', and
// symbolic links that lead outside the directory all resolve to nothing (404), so no request
// reads a file outside what was mounted. A directory serves its index.html.
//
// Threading: Mount() before concurrent use; the rest from any thread (file reads only).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brook/cluster/rest/http_message.h"

namespace brook::http::detail {

class StaticFiles {
 public:
  void Mount(std::string_view url_prefix, std::filesystem::path dir);

  // True if a mounted prefix covers these (decoded) path segments.
  bool Covers(const std::vector<std::string>& segments) const;
  // The file's contents with its content type; 404 if there is no such file.
  Response Serve(const std::vector<std::string>& segments) const;

 private:
  struct Mounted {
    std::vector<std::string> prefix;  // segments
    std::filesystem::path dir;        // canonical at Mount()
  };
  const Mounted* Find(const std::vector<std::string>& segments) const;

  std::vector<Mounted> mounts_;  // longest prefix first
};

// The Content-Type for a file name's extension; application/octet-stream if unknown.
std::string ContentTypeFor(const std::filesystem::path& file);

}  // namespace brook::http::detail
