// LmdbKeyedStateBackend<K>: keyed state in an LMDB environment (StateBackendKind::kLmdb), for
// state larger than memory. One environment per backend instance, in its own directory; the
// key layout, state-id catalog and TTL cleanup are LmdbStateStore's (lmdb_state_store.h), the
// typed states are in lmdb_states.h and lmdb_map_state.h.
//
// Hot path: value, reducing and aggregating states keep a write-back cache each
// (lmdb_state_cache.h) of recently used entries, deserialized, at most `cache_entries` per state;
// a hit is one hash probe, and LMDB sees a dirty entry once, when it is evicted or written back.
// List and map states go to LMDB on every access: SetCurrentKey marks the current key's bytes
// stale, and the first access serializes it into the key buffer behind the 4-byte
// [key group][state id] prefix; an access patches in the state id, appends the namespace (and a
// user key), and does one LMDB get or put inside the long-lived write transaction (committed
// every 50k writes, on Flush() and on destruction).
//
// Snapshots: TakeSnapshot() writes the caches back, then opens a read transaction, a consistent
// view that processing can keep writing past (LMDB MVCC); Snapshot(sink) reads one right away.
// Restore() writes entries under their state's name, whether or not the state is declared yet
// (the name gets its id on first sight), so nothing waits for declaration; the caches are
// written back and emptied first, so they cannot shadow restored entries.
//
// Reopening: destroying the backend writes the caches back and commits, and a new backend on the
// same directory sees the same state. Restoring a checkpoint therefore needs a fresh (or emptied)
// directory.
//
// Threading: the task thread only (LmdbStateSnapshot aside).
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/state/lmdb_environment.h"
#include "brook/runtime/state/lmdb_map_state.h"
#include "brook/runtime/state/lmdb_state_cache.h"
#include "brook/runtime/state/lmdb_state_store.h"
#include "brook/runtime/state/lmdb_states.h"
#include "brook/runtime/state/state_encoding.h"

namespace brook {

template <typename K>
class LmdbKeyedStateBackend final : public KeyedStateBackend<K> {
 public:
  // Opens or creates the environment in `options.directory`. Throws std::runtime_error.
  // `cache_entries`: the write-back cache's capacity, per value/reducing/aggregating state.
  LmdbKeyedStateBackend(const LmdbEnvironment::Options& options, int max_parallelism,
                        KeyGroupRange key_groups,
                        size_t cache_entries = StateBackendConfig{}.lmdb_cache_entries)
      : KeyedStateBackend<K>(max_parallelism, key_groups),
        store_(options),
        cache_entries_(cache_entries) {
    BROOK_CHECK(max_parallelism <= LmdbStateStore::kMaxParallelism,
                "the LMDB state backend supports max_parallelism up to 65535");
  }
  // Writes the caches back (a failure is reported on stderr); the store then commits.
  ~LmdbKeyedStateBackend() override {
    try {
      WriteBackCaches();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "brook: LMDB state in %s: %s\n", store_.env().directory().c_str(),
                   e.what());
    }
  }

  StateBackendKind kind() const override { return StateBackendKind::kLmdb; }
  void Flush() override {
    WriteBackCaches();
    store_.env().Commit();
  }

  std::unique_ptr<KeyedStateView> TakeView() override { return TakeSnapshot(); }
  // A consistent view, including every update made before the call, to write out later,
  // possibly on another thread: the caches are written back and committed (the only work on the
  // task thread), then a read transaction is opened.
  std::unique_ptr<LmdbStateSnapshot> TakeSnapshot() {
    WriteBackCaches();
    return store_.TakeSnapshot();
  }

  void Restore(const StateEntry& entry) override {
    if (!this->key_groups().Contains(KeyGroup(entry.key_group))) return;
    for (state_internal::LmdbCachedState* cache : caches_) cache->Drop();
    store_.Restore(entry);
  }

  // --- For the states (lmdb_states.h) ---

  LmdbEnvironment& env() { return store_.env(); }
  uint16_t StateId(const std::string& name, const StateTtlConfig& ttl) {
    const uint16_t id = store_.StateId(name);
    if (ttl.enabled()) store_.SetTtl(id, ttl);
    return id;
  }
  // [key group][id][current key][ns], in key_buffer().
  std::span<const std::byte> StateKey(uint16_t id, int64_t ns) {
    if (!current_key_encoded_) EncodeCurrentKey();
    LmdbStateStore::WriteStateId(key_buffer_.data() + 2, id);
    key_buffer_.resize(current_key_end_);
    state_internal::AppendNamespace(key_buffer_, ns);
    return key_buffer_;
  }
  // [key group][id][key][ns] of any key, into `out` (writing caches back).
  void EncodeStateKey(const K& key, uint16_t id, int64_t ns, std::vector<std::byte>& out) const {
    out.resize(LmdbStateStore::kPrefixBytes);
    LmdbStateStore::WritePrefix(out.data(), KeyGroupFor(key, this->max_parallelism()).value(), id);
    {
      BufferWriter writer(out);
      Serde<K>::Write(writer, key);
    }
    state_internal::AppendNamespace(out, ns);
  }
  // The buffer StateKey() wrote into, for appending a user key.
  std::vector<std::byte>& key_buffer() { return key_buffer_; }
  // Scratch for encoding values.
  std::vector<std::byte>& value_buffer() { return value_buffer_; }
  // Incremental TTL cleanup, batched: every kCleanupInterval-th write of a TTL state examines
  // kCleanupInterval * kCleanupEntriesPerWrite entries, so the cursor seek is amortized.
  void CleanupAfterTtlWrite(const StateTtlConfig& ttl, Timestamp now) {
    if (++ttl_writes_ % kCleanupInterval != 0) return;
    const bool event_time = ttl.time == StateTtlConfig::TimeCharacteristic::kEventTime;
    store_.CleanupSome(kCleanupInterval * state_internal::kCleanupEntriesPerWrite,
                       event_time ? ProcessingTimeService::Now() : now,
                       event_time ? now : this->TtlNow(StateTtlConfig::EventTime(1)));
  }

  // A new write-back cache for state `name`, registered for write-back and Restore().
  template <typename T>
  std::unique_ptr<state_internal::LmdbStateCache<K, T>> MakeCache(const std::string& name,
                                                                  const StateTtlConfig& ttl) {
    auto cache = std::make_unique<state_internal::LmdbStateCache<K, T>>(
        *this, StateId(name, ttl), ttl, cache_entries_);
    caches_.push_back(cache.get());
    return cache;
  }

  template <typename V>
  std::unique_ptr<ValueState<V>> MakeValueState(const ValueStateDescriptor<V>& d) {
    return std::make_unique<state_internal::LmdbValueState<K, V>>(*this, d.name, d.ttl);
  }
  template <typename V>
  std::unique_ptr<ListState<V>> MakeListState(const ListStateDescriptor<V>& d) {
    return std::make_unique<state_internal::LmdbListState<K, V>>(*this, d.name, d.ttl);
  }
  template <typename UK, typename UV>
  std::unique_ptr<MapState<UK, UV>> MakeMapState(const MapStateDescriptor<UK, UV>& d) {
    return std::make_unique<state_internal::LmdbMapState<K, UK, UV>>(*this, d.name, d.ttl);
  }
  template <typename V, typename F>
  std::unique_ptr<ReducingState<V>> MakeReducingState(const ReducingStateDescriptor<V, F>& d) {
    return std::make_unique<state_internal::LmdbReducingState<K, V, F>>(*this, d.name, d.ttl,
                                                                        d.reduce);
  }
  template <typename In, typename F>
  std::unique_ptr<AggregatingState<In, typename F::Acc, typename F::Out>> MakeAggregatingState(
      const AggregatingStateDescriptor<In, F>& d) {
    return std::make_unique<state_internal::LmdbAggregatingState<K, In, F>>(*this, d.name, d.ttl,
                                                                            d.aggregate);
  }

 protected:
  void OnCurrentKeyChanged() override { current_key_encoded_ = false; }

 private:
  void WriteBackCaches() {
    for (state_internal::LmdbCachedState* cache : caches_) cache->WriteBack();
  }

  void EncodeCurrentKey() {
    key_buffer_.resize(LmdbStateStore::kPrefixBytes);
    LmdbStateStore::WritePrefix(key_buffer_.data(), this->current_key_group().value(), 0);
    BufferWriter writer(key_buffer_);
    Serde<K>::Write(writer, this->current_key());
    current_key_end_ = key_buffer_.size();
    current_key_encoded_ = true;
  }

  static constexpr int kCleanupInterval = 16;

  LmdbStateStore store_;
  const size_t cache_entries_;
  // The caches of the states, which the base class owns and destroys after this class.
  std::vector<state_internal::LmdbCachedState*> caches_;
  uint64_t ttl_writes_ = 0;
  std::vector<std::byte> key_buffer_;
  size_t current_key_end_ = 0;
  bool current_key_encoded_ = false;
  std::vector<std::byte> value_buffer_;
};

}  // namespace brook
