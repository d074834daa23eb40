#include "brook/cluster/server/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "brook/cluster/server/sha256.h"

namespace brook::server {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTempPrefix = ".tmp-";

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string SanitizeName(std::string_view original) {
  const size_t slash = original.find_last_of("/\\");
  if (slash != std::string_view::npos) original.remove_prefix(slash + 1);
  std::string name;
  for (char c : original.substr(0, 128)) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    name.push_back(allowed ? c : '_');
  }
  // Never a hidden, relative or empty name.
  if (name.find_first_not_of('.') == std::string::npos || name.front() == '.') name = "blob" + name;
  return name;
}

ServerError IoError(std::string_view what, const fs::path& path, int error_number) {
  return MakeError(ServerErrc::kIo,
                   std::string(what) + " " + path.string() + ": " + std::strerror(error_number));
}

Result<void> WriteFileDurably(const fs::path& path, std::span<const std::byte> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", path, errno);
  const auto* data = reinterpret_cast<const char*>(bytes.data());
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      const int error_number = errno;
      ::close(fd);
      return IoError("cannot write", path, error_number);
    }
    data += written;
    left -= size_t(written);
  }
  if (::fsync(fd) != 0) {
    const int error_number = errno;
    ::close(fd);
    return IoError("cannot fsync", path, error_number);
  }
  if (::close(fd) != 0) return IoError("cannot close", path, errno);
  return Ok();
}

// Makes a rename or a new file in `directory` durable.
Result<void> SyncDirectory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", directory, errno);
  const int result = ::fsync(fd);
  const int error_number = errno;
  ::close(fd);
  if (result != 0) return IoError("cannot fsync", directory, error_number);
  return Ok();
}

ServerError NotFound(const BlobKey& key) {
  return MakeError(ServerErrc::kNotFound, "no blob with key " + key.hex());
}

}  // namespace

Result<BlobKey> BlobKey::Parse(std::string_view text) {
  if (text.size() != 64 || !std::all_of(text.begin(), text.end(), IsLowerHex)) {
    std::string shown(text.substr(0, 80));
    return MakeError(ServerErrc::kInvalidArgument,
                     "'" + shown + (text.size() > 80 ? "...'" : "'") +
                         " is not a blob key (64 lower-case hex digits)");
  }
  return BlobKey(std::string(text));
}

BlobKey BlobKey::Of(std::span<const std::byte> bytes) {
  return BlobKey(Sha256::Hex(Sha256::Of(bytes)));
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const fs::path& directory,
                                                   uint64_t max_blob_bytes) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    return MakeError(ServerErrc::kIo,
                     "cannot create blob directory " + directory.string() + ": " + error.message());
  }
  std::map<BlobKey, Entry> index;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(kTempPrefix)) {  // left by a crash in Put or Remove
      fs::remove_all(it->path(), error);
      if (error) break;
      continue;
    }
    auto key = BlobKey::Parse(name);
    if (!key || !it->is_directory()) continue;  // not ours: leave it alone
    for (const fs::directory_entry& file : fs::directory_iterator(it->path(), error)) {
      if (!file.is_regular_file()) continue;
      index.emplace(key.value(), Entry{file.file_size(), file.path().filename().string()});
      break;
    }
    if (error) break;
  }
  if (error) {
    return MakeError(ServerErrc::kIo,
                     "cannot read blob directory " + directory.string() + ": " + error.message());
  }
  return std::unique_ptr<BlobStore>(new BlobStore(directory, max_blob_bytes, std::move(index)));
}

BlobStore::BlobStore(fs::path directory, uint64_t max_blob_bytes, std::map<BlobKey, Entry> index)
    : directory_(std::move(directory)), max_blob_bytes_(max_blob_bytes), index_(std::move(index)) {}

Result<BlobKey> BlobStore::Put(std::span<const std::byte> bytes, std::string_view original_name) {
  if (bytes.size() > max_blob_bytes_) {  // checked before hashing a huge upload
    return MakeError(ServerErrc::kResourceExhausted,
                     "blob '" + std::string(original_name) + "' has " +
                         std::to_string(bytes.size()) + " bytes, over the limit of " +
                         std::to_string(max_blob_bytes_) + " (blob.max-size)");
  }
  return Store(bytes, original_name, BlobKey::Of(bytes));
}

Result<BlobKey> BlobStore::PutVerified(std::span<const std::byte> bytes,
                                       std::string_view original_name, const BlobKey& expected) {
  if (bytes.size() > max_blob_bytes_) return Put(bytes, original_name);
  BlobKey actual = BlobKey::Of(bytes);
  if (actual != expected) {
    return MakeError(ServerErrc::kInvalidArgument,
                     "blob '" + std::string(original_name) + "' was expected to have key " +
                         expected.hex() + " but its bytes have key " + actual.hex());
  }
  return Store(bytes, original_name, std::move(actual));
}

Result<BlobKey> BlobStore::Store(std::span<const std::byte> bytes, std::string_view original_name,
                                 BlobKey key) {
  fs::path temp;
  {
    std::lock_guard lock(mutex_);
    if (index_.contains(key)) return key;
    temp = directory_ / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                         std::to_string(next_temp_++));
  }
  const std::string name = SanitizeName(original_name);
  auto discard_temp = [&] {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
  };
  if (::mkdir(temp.c_str(), 0755) != 0) return IoError("cannot create", temp, errno);
  if (auto written = WriteFileDurably(temp / name, bytes); !written) {
    discard_temp();
    return written.error();
  }
  if (auto synced = SyncDirectory(temp); !synced) {
    discard_temp();
    return synced.error();
  }
  std::lock_guard lock(mutex_);
  if (index_.contains(key)) {  // a concurrent Put of the same bytes won
    discard_temp();
    return key;
  }
  const fs::path final_path = directory_ / key.hex();
  if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int error_number = errno;
    discard_temp();
    return IoError("cannot rename a new blob to", final_path, error_number);
  }
  if (auto synced = SyncDirectory(directory_); !synced) return synced.error();
  index_.emplace(key, Entry{bytes.size(), name});
  return key;
}

bool BlobStore::Contains(const BlobKey& key) const {
  std::lock_guard lock(mutex_);
  return index_.contains(key);
}

fs::path BlobStore::FilePath(const BlobKey& key, const Entry& entry) const {
  return directory_ / key.hex() / entry.name;
}

Result<fs::path> BlobStore::Path(const BlobKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return NotFound(key);
  return FilePath(key, it->second);
}

Result<BlobInfo> BlobStore::Info(const BlobKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return NotFound(key);
  return BlobInfo{key, it->second.size, it->second.name};
}

Result<std::vector<std::byte>> BlobStore::Read(const BlobKey& key) const {
  auto info = Info(key);
  if (!info) return info.error();
  return ReadRange(key, 0, info.value().size);
}

Result<std::vector<std::byte>> BlobStore::ReadRange(const BlobKey& key, uint64_t offset,
                                                    size_t max_bytes) const {
  auto path = Path(key);
  if (!path) return path.error();
  auto info = Info(key);
  if (!info) return info.error();
  const uint64_t size = info.value().size;
  const size_t length = offset >= size ? 0 : size_t(std::min<uint64_t>(max_bytes, size - offset));
  std::vector<std::byte> bytes(length);
  if (length == 0) return bytes;
  std::ifstream file(path.value(), std::ios::binary);
  if (file) file.seekg(std::streamoff(offset));
  if (file) file.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(length));
  if (!file) return IoError("cannot read", path.value(), errno);
  return bytes;
}

Result<void> BlobStore::Remove(const BlobKey& key) {
  fs::path doomed;
  {
    std::lock_guard lock(mutex_);
    if (!index_.contains(key)) return NotFound(key);
    doomed = directory_ / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                           std::to_string(next_temp_++) + "-removed");
    // Renamed first, so the key vanishes at once even if deleting the files is slow or fails.
    const fs::path path = directory_ / key.hex();
    if (::rename(path.c_str(), doomed.c_str()) != 0) return IoError("cannot remove", path, errno);
    index_.erase(key);
  }
  std::error_code error;
  fs::remove_all(doomed, error);  // a leftover is deleted by the next Open()
  return Ok();
}

std::vector<BlobInfo> BlobStore::List() const {
  std::lock_guard lock(mutex_);
  std::vector<BlobInfo> blobs;
  blobs.reserve(index_.size());
  for (const auto& [key, entry] : index_) blobs.push_back(BlobInfo{key, entry.size, entry.name});
  return blobs;
}

}  // namespace brook::server
