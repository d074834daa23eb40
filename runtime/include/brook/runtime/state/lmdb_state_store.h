// LmdbStateStore: the type-agnostic half of LmdbKeyedStateBackend (lmdb_state_backend.h), kept
// out of the template so it compiles once: the key layout, the catalog of state ids, incremental
// TTL cleanup, and snapshot/restore of raw entries.
//
// Key layout of an entry (bytewise order = key group, then state, then key, then namespace):
//
//   [key group: 2 bytes BE][state id: 2 bytes BE][Serde<K>(key)][namespace: 8 bytes][user key]
//
// where everything after the first 4 bytes is StateEntry::key (keyed_state_backend.h), and the
// value is StateEntry::value ([8-byte last-access timestamp if TTL][payload]). State ids are
// given out per state name in creation order and recorded under the metadata key
//
//   [0xFFFF][0xFFFF][name bytes] -> [state id: 2 bytes BE]
//
// so a reopened environment maps names to the same ids. Key group 0xFFFF is therefore reserved:
// max_parallelism must be at most 65535. Metadata sorts after every entry.
//
// Threading: the task thread, except that an LmdbStateSnapshot may be read by another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "brook/runtime/ids.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/state/lmdb_environment.h"
#include "brook/runtime/state/state_descriptor.h"

namespace brook {

// A consistent view of an LMDB state backend as of TakeSnapshot(): writes made afterwards do not
// show (LMDB MVCC), so it can be written out asynchronously while processing continues. It
// shares the environment, so it may outlive its backend (the backend commits before it lets
// go, so the environment is closed, wherever that happens, without a write transaction). While
// it lives, LMDB cannot reuse the pages it sees: release it once written.
// Threading: one thread at a time, any thread (the environment is MDB_NOTLS).
class LmdbStateSnapshot final : public KeyedStateView {
 public:
  ~LmdbStateSnapshot() override;

 protected:
  // Every entry, ordered by key group, then state id, then key.
  void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override;
  // Ends the read transaction: LMDB may reuse the pages it kept alive.
  void ReleaseImpl() override { txn_.reset(); }

 private:
  friend class LmdbStateStore;
  LmdbStateSnapshot(std::shared_ptr<LmdbEnvironment> env, std::unique_ptr<LmdbReadTransaction> txn,
                    std::vector<std::string> names)
      : env_(std::move(env)), txn_(std::move(txn)), names_(std::move(names)) {}

  std::shared_ptr<LmdbEnvironment> env_;  // outlives txn_
  std::unique_ptr<LmdbReadTransaction> txn_;
  std::vector<std::string> names_;  // by state id
};

class LmdbStateStore {
 public:
  static constexpr size_t kPrefixBytes = 4;
  static constexpr uint16_t kMetadataMarker = 0xFFFF;
  static constexpr int kMaxParallelism = 0xFFFF;

  // Opens the environment and loads the state-id catalog. Throws std::runtime_error.
  explicit LmdbStateStore(const LmdbEnvironment::Options& options);
  // Commits pending writes here, on the owning thread (LMDB binds a write transaction to its
  // thread), before a snapshot that may still share the environment closes it elsewhere.
  ~LmdbStateStore();
  LmdbStateStore(const LmdbStateStore&) = delete;
  LmdbStateStore& operator=(const LmdbStateStore&) = delete;

  LmdbEnvironment& env() { return *env_; }

  // The id of state `name`; a new name gets the next id, recorded in the environment.
  uint16_t StateId(const std::string& name);
  // Declares state `id`'s TTL, which incremental cleanup needs to judge its entries.
  void SetTtl(uint16_t id, const StateTtlConfig& ttl);

  // Examines `budget` entries after the position where the last call stopped (wrapping around
  // once) and deletes those of TTL states that have expired. Called after writes of TTL states.
  void CleanupSome(int budget, Timestamp processing_now, Timestamp watermark);

  // Commits pending writes and captures a consistent view.
  std::unique_ptr<LmdbStateSnapshot> TakeSnapshot();
  // Writes one snapshotted entry under its state's id. REQUIRES: its key group is this store's.
  void Restore(const StateEntry& entry);

  // Writes the 4-byte prefix [key group][state id] to `out[0..4)`.
  static void WritePrefix(std::byte* out, int32_t key_group, uint16_t id);
  static void WriteStateId(std::byte* out, uint16_t id);
  static uint16_t ReadU16(const std::byte* in);

 private:
  // Shared with the snapshots taken of it, which may outlive the store.
  std::shared_ptr<LmdbEnvironment> env_;
  std::unordered_map<std::string, uint16_t> ids_;
  std::vector<std::string> names_;                   // by id
  std::vector<std::optional<StateTtlConfig>> ttls_;  // by id; declared TTL states only
  std::vector<std::byte> cleanup_key_;               // where cleanup continues; empty: start
  std::vector<std::byte> restore_key_;               // scratch
};

}  // namespace brook
