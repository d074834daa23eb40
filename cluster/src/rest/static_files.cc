#include "static_files.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>

#include "router.h"

namespace brook::http::detail {
namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxFileBytes = uintmax_t{64} << 20;

bool SafeSegment(const std::string& segment) {
  return segment != "." && segment != ".." && segment.find_first_of("/\\") == std::string::npos;
}

// True if `path` is `dir` or inside it; both canonical.
bool Inside(const fs::path& dir, const fs::path& path) {
  auto [dir_end, path_it] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return dir_end == dir.end();
}

}  // namespace

void StaticFiles::Mount(std::string_view url_prefix, fs::path dir) {
  std::vector<std::string> prefix;
  SplitPath(url_prefix, &prefix);
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(dir, ec);
  mounts_.push_back({std::move(prefix), ec ? dir : canonical});
  std::stable_sort(mounts_.begin(), mounts_.end(), [](const Mounted& a, const Mounted& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

const StaticFiles::Mounted* StaticFiles::Find(const std::vector<std::string>& segments) const {
  for (const Mounted& mount : mounts_) {
    if (mount.prefix.size() <= segments.size() &&
        std::equal(mount.prefix.begin(), mount.prefix.end(), segments.begin()))
      return &mount;
  }
  return nullptr;
}

bool StaticFiles::Covers(const std::vector<std::string>& segments) const {
  return Find(segments) != nullptr;
}

Response StaticFiles::Serve(const std::vector<std::string>& segments) const {
  const Mounted* mount = Find(segments);
  Response not_found = Response::Error(404, "Not found");
  if (!mount) return not_found;
  fs::path path = mount->dir;
  for (size_t i = mount->prefix.size(); i < segments.size(); ++i) {
    if (!SafeSegment(segments[i])) return not_found;
    path /= segments[i];
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) path /= "index.html";
  fs::path resolved = fs::canonical(path, ec);  // follows links; fails if missing
  if (ec || !Inside(mount->dir, resolved) || !fs::is_regular_file(resolved, ec)) return not_found;
  uintmax_t size = fs::file_size(resolved, ec);
  if (ec) return not_found;
  if (size > kMaxFileBytes) return Response::Error(500, "File too large to serve");
  std::ifstream in(resolved, std::ios::binary);
  std::string data(static_cast<size_t>(size), '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(size)))
    return Response::Error(500, "Cannot read file");
  Response response = Response::Text(std::move(data), ContentTypeFor(resolved));
  // The UI is small and changes with every release: always revalidate.
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

std::string ContentTypeFor(const fs::path& file) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = kTypes.find(extension);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace brook::http::detail
