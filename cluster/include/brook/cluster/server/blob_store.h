// BlobStore: a directory of immutable, content-addressed blobs. The job manager keeps the job
// libraries users upload in one; each task manager caches the libraries it fetched in its own.
//
// A blob's key is the SHA-256 of its bytes in hex, so storing the same bytes twice gives one
// blob, and a fetched copy is verified by recomputing its key (Put with an expected key).
// Layout: `<directory>/<key>/<name>`, where name is the original file name, sanitized; Path()
// returns that file, which a job library loader can open directly. Put is atomic: the bytes go
// to a temporary directory (`.tmp-*`), are fsync'ed, and the directory is renamed into place,
// so a crash leaves either the whole blob or a temporary that the next Open() deletes.
//
// Keys reach the store from the network and REST paths, so every method takes a BlobKey, and
// the only way to make one from text is BlobKey::Parse, which accepts exactly 64 lower-case hex
// digits: no path separators, no "..", nothing else can name a file.
//
// Threading: all methods may be called from any thread at once; an in-memory index is guarded
// by a mutex, and the bytes of a Put are written outside it. One BlobStore per directory: two
// processes (or two stores) must not share a directory.
// Life cycle: Open() indexes the directory's blobs and deletes leftover temporaries. A path
// from Path() stays valid until the blob is Remove()d; the caller (the job manager) removes
// only blobs of jobs that no longer run.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brook/cluster/server/result.h"

namespace brook::server {

class BlobKey {
 public:
  // The key of `text` if it is exactly 64 lower-case hex digits; kInvalidArgument otherwise.
  static Result<BlobKey> Parse(std::string_view text);
  // The key of these bytes.
  static BlobKey Of(std::span<const std::byte> bytes);

  const std::string& hex() const { return hex_; }
  auto operator<=>(const BlobKey&) const = default;

 private:
  explicit BlobKey(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

struct BlobInfo {
  BlobKey key;
  uint64_t size = 0;
  std::string name;  // the sanitized original name
};

class BlobStore {
 public:
  // Opens (creating if needed) the store in `directory`, refusing blobs over max_blob_bytes.
  // Fails with kIo if the directory cannot be created or read.
  static Result<std::unique_ptr<BlobStore>> Open(const std::filesystem::path& directory,
                                                 uint64_t max_blob_bytes);

  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Stores `bytes` under their key, with `original_name` (sanitized: its last path component,
  // characters outside [A-Za-z0-9._-] replaced by '_'; "blob" if nothing is left). Storing
  // bytes that are already stored changes nothing (the first name stays) and returns the key.
  // Fails with kResourceExhausted over the size limit and kIo if the file system refuses;
  // a failed Put leaves no trace.
  Result<BlobKey> Put(std::span<const std::byte> bytes, std::string_view original_name);
  Result<BlobKey> Put(std::string_view bytes, std::string_view original_name) {
    return Put(std::as_bytes(std::span(bytes)), original_name);
  }
  // As Put, but refuses (kInvalidArgument, storing nothing) bytes whose key is not `expected`:
  // how a task manager stores a library it fetched by key.
  Result<BlobKey> PutVerified(std::span<const std::byte> bytes, std::string_view original_name,
                              const BlobKey& expected);

  bool Contains(const BlobKey& key) const;
  // The blob's file; kNotFound if it is not stored.
  Result<std::filesystem::path> Path(const BlobKey& key) const;
  Result<BlobInfo> Info(const BlobKey& key) const;
  // The whole blob; kNotFound or kIo.
  Result<std::vector<std::byte>> Read(const BlobKey& key) const;
  // At most max_bytes from `offset` (fewer at the end; none at or past the end): how the job
  // manager serves a blob in chunks.
  Result<std::vector<std::byte>> ReadRange(const BlobKey& key, uint64_t offset,
                                           size_t max_bytes) const;
  // Deletes the blob; kNotFound if it is not stored.
  Result<void> Remove(const BlobKey& key);
  // Every blob, ordered by key.
  std::vector<BlobInfo> List() const;

  const std::filesystem::path& directory() const { return directory_; }
  uint64_t max_blob_bytes() const { return max_blob_bytes_; }

 private:
  struct Entry {
    uint64_t size;
    std::string name;
  };

  BlobStore(std::filesystem::path directory, uint64_t max_blob_bytes,
            std::map<BlobKey, Entry> index);
  Result<BlobKey> Store(std::span<const std::byte> bytes, std::string_view original_name,
                        BlobKey key);
  std::filesystem::path FilePath(const BlobKey& key, const Entry& entry) const;

  const std::filesystem::path directory_;
  const uint64_t max_blob_bytes_;
  mutable std::mutex mutex_;
  std::map<BlobKey, Entry> index_;  // guarded by mutex_
  uint64_t next_temp_ = 0;          // guarded by mutex_
};

}  // namespace brook::server
