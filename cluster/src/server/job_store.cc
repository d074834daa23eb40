#include "cluster/src/server/job_store.h"

#include <tuple>

#include <spdlog/spdlog.h>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/lmdb_environment.h"

namespace brook {

namespace {

// Version 1 of a stored job: a tuple, so fields can only be appended in a new version.
using Encoded = std::tuple<uint8_t, std::string, std::string, std::string, std::vector<std::string>,
                           int32_t, int64_t, int32_t, int32_t, std::string, int64_t>;
constexpr uint8_t kVersion = 1;

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

}  // namespace

JobStore::JobStore(const std::string& directory) {
  LmdbEnvironment::Options options;
  options.directory = directory;
  options.map_size = size_t{1} << 30;
  env_ = std::make_unique<LmdbEnvironment>(options);
}

JobStore::~JobStore() = default;

void JobStore::Put(const StoredJob& job) {
  const Encoded encoded{kVersion, job.id, job.name, job.blob_key, job.args, job.parallelism,
                        job.start_time, job.attempt, job.restarts, job.restore_directory,
                        job.last_checkpoint_id};
  const auto value = Serialize(encoded);
  env_->Put(Bytes(job.id), value);
  env_->Commit();
}

void JobStore::Remove(const std::string& job_id) {
  env_->Delete(Bytes(job_id));
  env_->Commit();
}

std::vector<StoredJob> JobStore::All() {
  std::vector<StoredJob> jobs;
  auto read = env_->BeginRead();
  auto& cursor = read->cursor();
  for (bool ok = cursor.SeekFirst(); ok; ok = cursor.Next()) {
    try {
      const auto e = Deserialize<Encoded>(cursor.value());
      if (std::get<0>(e) != kVersion) throw SerdeError("unknown version");
      jobs.push_back(StoredJob{std::get<1>(e), std::get<2>(e), std::get<3>(e), std::get<4>(e),
                               std::get<5>(e), std::get<6>(e), std::get<7>(e), std::get<8>(e),
                               std::get<9>(e), std::get<10>(e)});
    } catch (const std::exception& e) {
      spdlog::error("job manager: a stored job cannot be read ({}); skipping it", e.what());
    }
  }
  return jobs;
}

}  // namespace brook
