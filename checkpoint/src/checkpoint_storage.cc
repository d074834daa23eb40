#include "brook/checkpoint/checkpoint_storage.h"

#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "brook/checkpoint/key_group_redistribution.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/operator_state.h"

namespace brook {
namespace fs = std::filesystem;

namespace {

constexpr char kSep = '\0';
constexpr const char* kMetadataKey = "M";

std::string Fixed(int64_t n) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%010lld", static_cast<long long>(n));
  return buffer;
}

std::string TaskKey(const std::string& vertex, int subtask) {
  return std::string("T") + kSep + vertex + kSep + Fixed(subtask);
}
std::string TaskPrefix(const std::string& vertex) { return std::string("T") + kSep + vertex + kSep; }
std::string OperatorKey(const std::string& vertex, const std::string& op, int subtask) {
  return std::string("O") + kSep + vertex + kSep + op + kSep + Fixed(subtask);
}
std::string KeyedPrefix(const std::string& vertex, const std::string& op, int subtask) {
  return std::string("K") + kSep + vertex + kSep + op + kSep + Fixed(subtask) + kSep;
}

template <typename T>
std::string Encode(const T& value) {
  std::vector<std::byte> bytes = Serialize(value);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
template <typename T>
T Decode(std::string_view bytes) {
  return Deserialize<T>(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
}

// parallelism, max parallelism, checkpoint id, timestamp, operator ids, channel state
using TaskRecord = std::tuple<int32_t, int32_t, int64_t, int64_t, std::vector<std::string>,
                              std::vector<std::vector<std::string>>>;
// state name, key, value
using KeyedRecord = std::vector<std::tuple<std::string, std::string, std::string>>;

[[noreturn]] void Fail(int rc, const std::string& what) {
  throw std::runtime_error("checkpoint storage: " + what + ": " + mdb_strerror(rc));
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

// One checkpoint's LMDB environment.
class CheckpointStorage::Environment {
 public:
  Environment(const std::string& directory, size_t map_size) : directory_(directory) {
    int rc = mdb_env_create(&env_);
    if (rc != 0) Fail(rc, "creating an environment for " + directory);
    rc = mdb_env_set_mapsize(env_, map_size);
    // Commits do not sync (Write commits a snapshot in batches); Sync() after each write does.
    if (rc == 0)
      rc = mdb_env_open(env_, directory.c_str(), MDB_NOTLS | MDB_NORDAHEAD | MDB_NOSYNC, 0644);
    if (rc != 0) {
      mdb_env_close(env_);
      Fail(rc, "opening " + directory);
    }
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else if (txn) mdb_txn_abort(txn);
    if (rc != 0) {
      mdb_env_close(env_);
      Fail(rc, "opening the database of " + directory);
    }
  }
  ~Environment() { mdb_env_close(env_); }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Writes all pairs in one transaction, synced.
  void PutAll(const std::vector<std::pair<std::string, std::string>>& pairs) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) Fail(rc, "beginning a write in " + directory_);
    for (const auto& [key, value] : pairs) {
      MDB_val k = Val(key), v = Val(value);
      rc = mdb_put(txn, dbi_, &k, &v, 0);
      if (rc != 0) {
        mdb_txn_abort(txn);
        Fail(rc, "writing to " + directory_);
      }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) Fail(rc, "committing to " + directory_);
    Sync();
  }

  // Flushes every committed transaction to disk.
  void Sync() {
    const int rc = mdb_env_sync(env_, 1);
    if (rc != 0) Fail(rc, "syncing " + directory_);
  }

  // The puts of one Write(). Its transaction is committed (without a sync) and a new one begun
  // whenever kWriteBatchBytes were put (CommitIfLarge): LMDB holds a transaction's dirty pages in
  // memory until it commits, so one transaction for a whole snapshot would hold another copy of
  // the state.
  class Writer {
   public:
    ~Writer() {
      if (txn_ != nullptr) mdb_txn_abort(txn_);
    }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    void Put(std::string_view key, std::string_view value) {
      MDB_val k = Val(key), v = Val(value);
      const int rc = mdb_put(txn_, env_.dbi_, &k, &v, 0);
      if (rc != 0) Fail(rc, "writing to " + env_.directory_);
      bytes_ += key.size() + value.size();
    }
    // Puts a value of `size` bytes written in place: returns where to write them, valid until
    // the next put. Spares copying a big value once more on its way into LMDB.
    std::byte* Reserve(std::string_view key, size_t size) {
      MDB_val k = Val(key), v{size, nullptr};
      const int rc = mdb_put(txn_, env_.dbi_, &k, &v, MDB_RESERVE);
      if (rc != 0) Fail(rc, "writing to " + env_.directory_);
      bytes_ += key.size() + size;
      return static_cast<std::byte*>(v.mv_data);
    }
    // Commits what was put so far if that is kWriteBatchBytes or more. Invalidates Reserve's
    // pointers.
    void CommitIfLarge() {
      if (bytes_ < kWriteBatchBytes) return;
      Commit();
      Begin();
    }

   private:
    friend class Environment;
    static constexpr size_t kWriteBatchBytes = size_t{64} << 20;

    explicit Writer(Environment& env) : env_(env) { Begin(); }
    void Begin() {
      const int rc = mdb_txn_begin(env_.env_, nullptr, 0, &txn_);
      if (rc != 0) {
        txn_ = nullptr;
        Fail(rc, "beginning a write in " + env_.directory_);
      }
      bytes_ = 0;
    }
    void Commit() {
      MDB_txn* txn = std::exchange(txn_, nullptr);
      const int rc = mdb_txn_commit(txn);
      if (rc != 0) Fail(rc, "committing to " + env_.directory_);
    }

    Environment& env_;
    MDB_txn* txn_ = nullptr;
    size_t bytes_ = 0;  // put since the transaction began
  };

  // Runs `fn(writer)` and syncs what it wrote to disk. If fn throws, what it put since its last
  // batch commit is not written (callers write what marks their data complete last).
  void Write(const std::function<void(Writer&)>& fn) {
    {
      Writer writer(*this);
      fn(writer);
      writer.Commit();
    }
    Sync();
  }

  std::optional<std::string> Get(const std::string& key) {
    std::optional<std::string> out;
    Read([&](MDB_txn* txn) {
      MDB_val k = Val(key), v;
      int rc = mdb_get(txn, dbi_, &k, &v);
      if (rc == 0) out = std::string(View(v));
      else if (rc != MDB_NOTFOUND) Fail(rc, "reading " + directory_);
    });
    return out;
  }

  // Calls fn(key, value) for keys >= `from` that start with `prefix`, in order, while fn
  // returns true.
  void Scan(const std::string& prefix, const std::string& from,
            const std::function<bool(std::string_view, std::string_view)>& fn) {
    Read([&](MDB_txn* txn) {
      MDB_cursor* cursor = nullptr;
      int rc = mdb_cursor_open(txn, dbi_, &cursor);
      if (rc != 0) Fail(rc, "opening a cursor in " + directory_);
      MDB_val k = Val(from), v;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
      while (rc == 0) {
        std::string_view key = View(k);
        if (key.substr(0, prefix.size()) != prefix || !fn(key, View(v))) break;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      }
      mdb_cursor_close(cursor);
      if (rc != 0 && rc != MDB_NOTFOUND) Fail(rc, "scanning " + directory_);
    });
  }

  void CopyTo(const std::string& target) {
    int rc = mdb_env_copy2(env_, target.c_str(), MDB_CP_COMPACT);
    if (rc != 0) Fail(rc, "copying " + directory_ + " to " + target);
  }

 private:
  template <typename Fn>
  void Read(Fn&& fn) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) Fail(rc, "beginning a read in " + directory_);
    try {
      fn(txn);
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
    mdb_txn_abort(txn);
  }

  const std::string directory_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

namespace {
class StorageWriter final : public TaskSnapshotWriter {
 public:
  StorageWriter(CheckpointStorage* storage, std::string job_id, SubtaskLocation location)
      : storage_(storage), job_id_(std::move(job_id)), location_(std::move(location)) {}
  std::string Write(const TaskSnapshot& snapshot) override {
    return storage_->WriteTaskSnapshot(job_id_, location_, snapshot);
  }

 private:
  CheckpointStorage* storage_;
  const std::string job_id_;
  const SubtaskLocation location_;
};
}  // namespace

CheckpointStorage::CheckpointStorage(CheckpointStorageOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.directory, ec);
  if (ec)
    throw std::runtime_error("checkpoint storage: cannot create " + options_.directory + ": " +
                             ec.message());
}

CheckpointStorage::~CheckpointStorage() = default;

std::unique_ptr<TaskSnapshotWriter> CheckpointStorage::CreateWriter(std::string job_id,
                                                                    SubtaskLocation location) {
  return std::make_unique<StorageWriter>(this, std::move(job_id), std::move(location));
}

std::string CheckpointStorage::CheckpointDirectory(const std::string& job_id, CheckpointId id) const {
  return (fs::path(options_.directory) / job_id / ("chk-" + std::to_string(id.value()))).string();
}

namespace {
// LMDB forbids two MDB_envs on one file in one process (closing one drops the other's locks), and
// a MiniCluster has the job manager's and the task managers' storages in one process. So every
// CheckpointStorage shares one registry: an environment is opened once per process, kept open
// while someone uses it, and closed before it may be opened again.
struct EnvironmentRegistry {
  std::mutex mutex;
  std::condition_variable closed;
  std::map<std::string, std::weak_ptr<void>> open;  // guarded by mutex
};
EnvironmentRegistry& Registry() {
  static EnvironmentRegistry* registry = new EnvironmentRegistry;  // never destroyed: used at exit
  return *registry;
}
}  // namespace

std::shared_ptr<CheckpointStorage::Environment> CheckpointStorage::EnvironmentAt(
    const std::string& directory, bool create) {
  EnvironmentRegistry& registry = Registry();
  std::unique_lock lock(registry.mutex);
  while (true) {
    auto it = registry.open.find(directory);
    if (it == registry.open.end()) break;
    if (auto env = it->second.lock()) return std::static_pointer_cast<Environment>(env);
    registry.closed.wait(lock);  // its last user is closing it
  }
  std::error_code ec;
  if (create) {
    fs::create_directories(directory, ec);
    if (ec) throw std::runtime_error("checkpoint storage: cannot create " + directory + ": " + ec.message());
  } else if (!fs::exists(fs::path(directory) / "data.mdb", ec)) {
    throw std::runtime_error("checkpoint storage: no checkpoint at " + directory);
  }
  std::shared_ptr<Environment> env(new Environment(directory, options_.map_size),
                                   [directory](Environment* e) {
                                     EnvironmentRegistry& r = Registry();
                                     std::lock_guard closing(r.mutex);
                                     delete e;
                                     r.open.erase(directory);
                                     r.closed.notify_all();
                                   });
  registry.open[directory] = env;
  return env;
}

namespace {
// Puts one key group's block as the value of `key`, in place: the count, then the entries (as
// Encode(KeyedRecord) would encode them). The big part of a checkpoint goes through here.
template <typename Writer>
void PutKeyGroup(Writer& writer, std::string_view key, const KeyGroupBlock& block) {
  std::byte count[BufferWriter::kMaxVarintBytes];
  const size_t count_size = BufferWriter::PutVarint(count, block.count);
  std::byte* out = writer.Reserve(key, count_size + block.bytes.size());
  std::memcpy(out, count, count_size);
  if (!block.bytes.empty()) std::memcpy(out + count_size, block.bytes.data(), block.bytes.size());
}
}  // namespace

std::string CheckpointStorage::WriteTaskSnapshot(const std::string& job_id,
                                                 const SubtaskLocation& location,
                                                 const TaskSnapshot& snapshot) {
  const std::string directory = CheckpointDirectory(job_id, snapshot.checkpoint_id);
  TaskRecord task{location.parallelism, location.max_parallelism, snapshot.checkpoint_id.value(),
                  snapshot.timestamp, {}, snapshot.channel_state};
  for (const OperatorSnapshot& op : snapshot.operators) std::get<4>(task).push_back(op.operator_id);
  EnvironmentAt(directory, /*create=*/true)->Write([&](Environment::Writer& writer) {
    for (const OperatorSnapshot& op : snapshot.operators) {
      writer.Put(OperatorKey(location.vertex, op.operator_id, location.subtask), op.operator_state);
      // The entries added on the task thread (timers of tests, say): few; merged into their key
      // groups.
      std::map<int32_t, std::vector<const StateEntry*>> added;
      for (const StateEntry& e : op.keyed) added[e.key_group].push_back(&e);
      const std::string prefix = KeyedPrefix(location.vertex, op.operator_id, location.subtask);
      KeyGroupBlock added_only;
      auto put_added_through = [&](int32_t last) {
        while (!added.empty() && added.begin()->first <= last) {
          added_only.Reset(added.begin()->first);
          for (const StateEntry* e : added.begin()->second) added_only.Add(*e);
          added.erase(added.begin());
          PutKeyGroup(writer, prefix + Fixed(added_only.key_group), added_only);
          writer.CommitIfLarge();
        }
      };
      // The backend's view streams key group by key group, one LMDB value each.
      if (op.keyed_view) {
        int32_t previous = -1;
        op.keyed_view->ForEachKeyGroup([&](KeyGroupBlock& block) {
          if (block.key_group <= previous)
            throw std::runtime_error("checkpoint storage: keyed entries out of key-group order");
          previous = block.key_group;
          put_added_through(block.key_group - 1);
          if (auto it = added.find(block.key_group); it != added.end()) {
            for (const StateEntry* e : it->second) block.Add(*e);
            added.erase(it);
          }
          PutKeyGroup(writer, prefix + Fixed(block.key_group), block);
          writer.CommitIfLarge();
        });
        // Its entries are in the transaction now: let the task stop paying for the view before
        // the commit waits for the disk.
        op.keyed_view->Release();
      }
      put_added_through(std::numeric_limits<int32_t>::max());
    }
    // Last: a subtask's state counts only with its task record.
    writer.Put(TaskKey(location.vertex, location.subtask), Encode(task));
  });
  return directory + "#" + location.vertex + "#" + std::to_string(location.subtask);
}

void CheckpointStorage::CompleteCheckpoint(const CheckpointMetadata& metadata) {
  const std::string directory = CheckpointDirectory(metadata.job_id, metadata.checkpoint_id);
  EnvironmentAt(directory, /*create=*/true)->PutAll({{kMetadataKey, metadata.Encode()}});
  ApplyRetention(metadata.job_id);
}

std::optional<CheckpointMetadata> CheckpointStorage::ReadMetadata(const std::string& directory) {
  auto bytes = EnvironmentAt(directory, /*create=*/false)->Get(kMetadataKey);
  if (!bytes) return std::nullopt;
  return CheckpointMetadata::Decode(*bytes);
}

namespace {
// Checkpoint ids of the chk-<id> directories under `job_directory`, ascending.
std::vector<int64_t> CheckpointIdsOnDisk(const fs::path& job_directory) {
  std::vector<int64_t> ids;
  std::error_code ec;
  for (fs::directory_iterator it(job_directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("chk-", 0) != 0) continue;
    try {
      size_t used = 0;
      int64_t id = std::stoll(name.substr(4), &used);
      if (used == name.size() - 4) ids.push_back(id);
    } catch (const std::exception&) {
      // Not one of ours.
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}
}  // namespace

std::vector<CheckpointId> CheckpointStorage::CompletedCheckpoints(const std::string& job_id) {
  std::vector<CheckpointId> completed;
  for (int64_t id : CheckpointIdsOnDisk(fs::path(options_.directory) / job_id)) {
    const std::string directory = CheckpointDirectory(job_id, CheckpointId(id));
    std::error_code ec;
    if (!fs::exists(fs::path(directory) / "data.mdb", ec)) continue;
    if (EnvironmentAt(directory, false)->Get(kMetadataKey)) completed.push_back(CheckpointId(id));
  }
  return completed;
}

void CheckpointStorage::Discard(const std::string& job_id, CheckpointId id) {
  const std::string directory = CheckpointDirectory(job_id, id);
  std::error_code ec;
  fs::remove_all(directory, ec);
}

void CheckpointStorage::ApplyRetention(const std::string& job_id) {
  const std::vector<CheckpointId> completed = CompletedCheckpoints(job_id);
  const size_t keep = size_t(std::max(1, options_.retained_checkpoints));
  if (completed.empty()) return;
  const size_t drop = completed.size() > keep ? completed.size() - keep : 0;
  for (size_t i = 0; i < drop; ++i) Discard(job_id, completed[i]);
  // Incomplete checkpoints older than the newest completed one will never complete.
  const int64_t newest = completed.back().value();
  for (int64_t id : CheckpointIdsOnDisk(fs::path(options_.directory) / job_id)) {
    if (id >= newest) break;
    if (!std::binary_search(completed.begin(), completed.end(), CheckpointId(id)))
      Discard(job_id, CheckpointId(id));
  }
}

// The keyed entries of one operator that a restored subtask owns, read out of the checkpoint
// when asked for: one LMDB value per key group, decoded entry by entry into one reused
// StateEntry (a count, then a KeyGroupBlock's bytes), so reading costs no copy of the state.
class CheckpointStorage::StoredKeyedView final : public KeyedStateView {
 public:
  // Key groups `range` of the keyed entries under `prefix` (one old subtask's).
  struct Scan {
    std::string prefix;
    KeyGroupRange range;
  };
  // REQUIRES: scans in ascending key-group order, not overlapping.
  StoredKeyedView(std::shared_ptr<Environment> env, std::vector<Scan> scans)
      : env_(std::move(env)), scans_(std::move(scans)) {}

 protected:
  void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override {
    for (const Scan& scan : scans_) {
      env_->Scan(scan.prefix, scan.prefix + Fixed(scan.range.first),
                 [&](std::string_view key, std::string_view value) {
                   const int32_t group =
                       int32_t(std::stol(std::string(key.substr(scan.prefix.size()))));
                   if (group > scan.range.last) return false;
                   BufferReader reader(std::span<const std::byte>(
                       reinterpret_cast<const std::byte*>(value.data()), value.size()));
                   const uint64_t count = reader.ReadVarint();  // then PutKeyGroup's block
                   KeyGroupBlock::ForEachEntry(group, count, reader.ReadSpan(reader.remaining()),
                                               sink);
                   return true;
                 });
    }
  }
  void ReleaseImpl() override { env_.reset(); }

 private:
  std::shared_ptr<Environment> env_;
  const std::vector<Scan> scans_;
};

TaskSnapshot CheckpointStorage::LoadTaskState(const std::string& directory,
                                              const SubtaskLocation& location) {
  auto env = EnvironmentAt(directory, /*create=*/false);
  auto metadata_bytes = env->Get(kMetadataKey);
  if (!metadata_bytes)
    throw std::runtime_error("checkpoint storage: " + directory + " never completed");
  const CheckpointMetadata metadata = CheckpointMetadata::Decode(*metadata_bytes);

  TaskSnapshot out;
  out.checkpoint_id = metadata.checkpoint_id;
  out.timestamp = metadata.trigger_time;
  std::vector<TaskRecord> old_tasks;
  env->Scan(TaskPrefix(location.vertex), TaskPrefix(location.vertex),
            [&](std::string_view, std::string_view value) {
              old_tasks.push_back(Decode<TaskRecord>(value));
              return true;
            });
  if (old_tasks.empty()) return out;  // a vertex the checkpoint does not know: starts empty
  const int old_parallelism = int(old_tasks.size());
  const int max_parallelism = std::get<1>(old_tasks[0]);
  if (std::get<0>(old_tasks[0]) != old_parallelism)
    throw std::runtime_error("checkpoint storage: " + directory + " lacks subtasks of vertex " +
                             location.vertex);
  if (max_parallelism != location.max_parallelism)
    throw std::runtime_error("checkpoint storage: vertex " + location.vertex +
                             " had max parallelism " + std::to_string(max_parallelism) +
                             ", cannot restore with " + std::to_string(location.max_parallelism));
  const bool same_parallelism = old_parallelism == location.parallelism;

  if (same_parallelism) {
    out.channel_state = std::get<5>(old_tasks[size_t(location.subtask)]);
  } else {
    for (const TaskRecord& t : old_tasks)
      for (const auto& channel : std::get<5>(t))
        if (!channel.empty())
          throw std::runtime_error(
              "checkpoint storage: an unaligned checkpoint's channel state restores only at the "
              "same parallelism (vertex " + location.vertex + ")");
  }

  const auto transfers = KeyGroupsToRestore(location.subtask, location.parallelism,
                                            old_parallelism, max_parallelism);
  for (const std::string& op_id : std::get<4>(old_tasks[0])) {
    OperatorSnapshot op;
    op.operator_id = op_id;
    if (same_parallelism) {
      op.operator_state =
          env->Get(OperatorKey(location.vertex, op_id, location.subtask)).value_or(std::string());
    } else {
      std::vector<std::string> old_states;
      for (int s = 0; s < old_parallelism; ++s)
        old_states.push_back(env->Get(OperatorKey(location.vertex, op_id, s)).value_or(std::string()));
      op.operator_state =
          OperatorStateStore::Redistribute(old_states, location.subtask, location.parallelism);
    }
    std::vector<StoredKeyedView::Scan> scans;
    for (const KeyGroupTransfer& transfer : transfers)
      scans.push_back({KeyedPrefix(location.vertex, op_id, transfer.old_subtask), transfer.range});
    op.keyed_view = std::make_shared<StoredKeyedView>(env, std::move(scans));
    out.operators.push_back(std::move(op));
  }
  return out;
}

void CheckpointStorage::WriteSavepoint(const std::string& job_id, CheckpointId id,
                                       const std::string& target_directory) {
  const std::string source = CheckpointDirectory(job_id, id);
  auto env = EnvironmentAt(source, /*create=*/false);
  if (!env->Get(kMetadataKey))
    throw std::runtime_error("checkpoint storage: checkpoint " + std::to_string(id.value()) +
                             " of job " + job_id + " is not complete");
  std::error_code ec;
  if (fs::exists(fs::path(target_directory) / "data.mdb", ec))
    throw std::runtime_error("checkpoint storage: " + target_directory + " already holds a checkpoint");
  fs::create_directories(target_directory, ec);
  if (ec)
    throw std::runtime_error("checkpoint storage: cannot create " + target_directory + ": " + ec.message());
  env->CopyTo(target_directory);
}

}  // namespace brook
