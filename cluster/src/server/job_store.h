// JobStore: what the job manager must remember about its unfinished jobs to recover them after
// it restarts (Flink's JobGraphStore + CompletedCheckpointStore, in the job manager's own LMDB):
// the job library's blob key, arguments and parallelism, the attempt count, and the latest
// completed checkpoint to restore from. Written on submission, on every deployment and every
// completed checkpoint; removed when the job ends. Internal to brook_server.
//
// Durability: each change is committed at once. The environment is opened without fsync, so a
// killed job manager process loses nothing (the data is in the page cache); a machine crash may.
// Threading: the job manager's executor only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace brook {

class LmdbEnvironment;

struct StoredJob {
  std::string id;
  std::string name;
  std::string blob_key;
  std::vector<std::string> args;
  int parallelism = 0;
  int64_t start_time = 0;
  int attempt = 0;
  int restarts = 0;
  std::string restore_directory;  // the latest completed checkpoint or the savepoint started from
  int64_t last_checkpoint_id = 0;
};

class JobStore {
 public:
  // Opens (creating) the store in `directory`. Throws std::runtime_error.
  explicit JobStore(const std::string& directory);
  ~JobStore();

  void Put(const StoredJob& job);
  void Remove(const std::string& job_id);
  // Every stored job; entries that cannot be decoded are skipped with a logged error.
  std::vector<StoredJob> All();

 private:
  std::unique_ptr<LmdbEnvironment> env_;
};

}  // namespace brook
