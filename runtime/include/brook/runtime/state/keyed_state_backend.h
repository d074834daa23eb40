// KeyedStateBackend<K>: where one keyed operator subtask keeps its state. It holds the current
// key (set by the operator before each record or timer) and creates the typed states that
// descriptors declare, once per name. Two implementations behind this one interface:
//
// - in-memory (HeapKeyedStateBackend): hash maps of objects, fastest; snapshots serialize.
// - LMDB (LmdbKeyedStateBackend): one LMDB environment per subtask under a working directory;
//   state larger than memory works, and an MVCC read transaction is a consistent snapshot.
//
// Entries are partitioned by key group (hash(key) % max_parallelism); a subtask only holds the
// key groups of its KeyGroupRange, which is what lets state move when parallelism changes.
//
// Threading: the task thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/ids.h"
#include "brook/runtime/key_groups.h"
#include "brook/runtime/state/key_group_block.h"
#include "brook/runtime/state/keyed_state.h"
#include "brook/runtime/state/state_descriptor.h"
#include "brook/runtime/timer_service.h"

namespace brook {

enum class StateBackendKind { kMemory, kLmdb };

struct StateBackendConfig {
  StateBackendKind kind = StateBackendKind::kMemory;
  // LMDB: environments live in <lmdb_directory>/<environment name>/ (one per subtask).
  std::string lmdb_directory = "/tmp/brook-state";
  size_t lmdb_map_size = size_t{64} << 30;  // address space reserved, not memory used
  // LMDB: entries each value, reducing and aggregating state keeps deserialized in its
  // write-back cache (lmdb_state_cache.h). Memory is about this many keys, namespaces and values.
  size_t lmdb_cache_entries = 65'536;
};

// A consistent view of a backend's keyed state as of the moment it was taken (a checkpoint
// barrier), to be read later, on another thread, while the task goes on changing the state:
// this is what keeps the task thread's part of a checkpoint short. The heap backend shares its
// per-key-group tables copy-on-write; the LMDB backend holds an MVCC read transaction.
//
// Threading: any thread, one at a time. Life cycle: may outlive its backend (and its task); it
// holds what it reads. Holding a view costs the backend (copies of the tables it writes to,
// LMDB pages it cannot reuse), so views are released as soon as they are written.
class KeyedStateView {
 public:
  virtual ~KeyedStateView() = default;
  // Calls `sink` with every entry, in ascending key-group order (one key group's entries are
  // adjacent). An entry is valid only during the call. May be called again (same entries).
  // Throws std::exception if the state cannot be read (the checkpoint is declined).
  void ForEachEntry(const std::function<void(const StateEntry&)>& sink) {
    BROOK_CHECK(!released_, "a keyed state view is read after Release()");
    size_t bytes = 0;
    ForEachEntryImpl([&](const StateEntry& e) {
      bytes += e.state_name.size() + e.key.size() + e.value.size() + 4;
      sink(e);
    });
    bytes_ = bytes;
  }
  // The same entries, a key group at a time: calls `sink` once for each key group that holds
  // entries, in ascending order, with their encoding (KeyGroupBlock). The sink may append to the
  // block; it is valid only during the call. Throws as ForEachEntry.
  void ForEachKeyGroup(const KeyGroupSink& sink) {
    BROOK_CHECK(!released_, "a keyed state view is read after Release()");
    size_t bytes = 0;
    KeyGroupBlock block;
    ForEachKeyGroupImpl(block, [&](KeyGroupBlock& b) {
      sink(b);
      bytes += b.bytes.size() + b.count;  // as ForEachEntry counts, give or take length bytes
    });
    bytes_ = bytes;
  }
  // Bytes of the entries of the last complete read (as TaskSnapshot::StateSize counts).
  size_t bytes() const { return bytes_; }

  // Lets go of what the view reads (shared heap tables, the LMDB read transaction) after its
  // last read, while its owner goes on: checkpoint storage releases a view once its entries are
  // in the write transaction, before the commit's disk sync, so that the task stops paying for
  // the view (copies of tables it writes to) as early as possible. bytes() stays. REQUIRES: no
  // ForEachEntry afterwards.
  void Release() {
    released_ = true;
    ReleaseImpl();
  }

 protected:
  virtual void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) = 0;
  // Fills `block` (scratch the caller owns) with each key group's entries in turn and passes it
  // to `sink`. By default from ForEachEntryImpl; views that encode faster override it.
  virtual void ForEachKeyGroupImpl(KeyGroupBlock& block, const KeyGroupSink& sink);
  virtual void ReleaseImpl() {}

 private:
  size_t bytes_ = 0;
  bool released_ = false;
};

// A view over entries copied out at once (backends without a cheaper consistent view, tests).
class CopiedKeyedStateView final : public KeyedStateView {
 public:
  // REQUIRES: `entries` in ascending key-group order.
  explicit CopiedKeyedStateView(std::vector<StateEntry> entries) : entries_(std::move(entries)) {}

 protected:
  void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override {
    for (const StateEntry& e : entries_) sink(e);
  }
  void ReleaseImpl() override { std::vector<StateEntry>().swap(entries_); }

 private:
  std::vector<StateEntry> entries_;
};

// A state used with two different types or kinds under one name.
class StateTypeError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <typename K>
class KeyedStateBackend {
 public:
  KeyedStateBackend(int max_parallelism, KeyGroupRange key_groups)
      : max_parallelism_(max_parallelism), key_groups_(key_groups) {}
  virtual ~KeyedStateBackend() = default;
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;

  virtual StateBackendKind kind() const = 0;

  // REQUIRES: the key belongs to this backend's key groups.
  void SetCurrentKey(const K& key) {
    current_key_ = key;
    current_key_hash_ = KeyHasher<K>{}(key);
    current_key_group_ = KeyGroupForHash(current_key_hash_, max_parallelism_);
    BROOK_DCHECK(key_groups_.Contains(current_key_group_), "key outside this subtask's key groups");
    OnCurrentKeyChanged();
  }
  const K& current_key() const { return current_key_; }
  KeyGroup current_key_group() const { return current_key_group_; }
  // KeyHasher<K>{}(current_key()), computed once per SetCurrentKey (the heap backend probes
  // its hash tables with it).
  uint64_t current_key_hash() const { return current_key_hash_; }
  int max_parallelism() const { return max_parallelism_; }
  const KeyGroupRange& key_groups() const { return key_groups_; }

  // The clock of TTL: processing time, or event time for event-time TTL: the later of the
  // watermark and the time of the record (or timer) being processed, so an entry written before
  // the first watermark is stamped with its record's time, not with the minimum watermark.
  void SetCurrentWatermark(Timestamp watermark) { watermark_ = watermark; }
  void SetCurrentRecordTime(Timestamp time) { record_time_ = time; }
  Timestamp TtlNow(const StateTtlConfig& ttl) const {
    return ttl.time == StateTtlConfig::TimeCharacteristic::kEventTime
               ? std::max(watermark_, record_time_)
               : ProcessingTimeService::Now();
  }

  template <typename V>
  ValueState<V>& GetState(const ValueStateDescriptor<V>& d);
  template <typename V>
  ListState<V>& GetListState(const ListStateDescriptor<V>& d);
  template <typename UK, typename UV>
  MapState<UK, UV>& GetMapState(const MapStateDescriptor<UK, UV>& d);
  template <typename V, typename F>
  ReducingState<V>& GetReducingState(const ReducingStateDescriptor<V, F>& d);
  template <typename In, typename F>
  AggregatingState<In, typename F::Acc, typename F::Out>& GetAggregatingState(
      const AggregatingStateDescriptor<In, F>& d);

  // Makes pending writes durable in the backend's own storage (LMDB commits its open write
  // transaction); a no-op in memory.
  virtual void Flush() {}

  // A consistent view of every entry as of now (KeyedStateView), cheap to take: the task
  // thread's part of a checkpoint. Expired TTL entries may be included; they read as absent.
  // LMDB writes its caches back and commits first.
  virtual std::unique_ptr<KeyedStateView> TakeView() = 0;
  // Calls `sink` with every entry, by key group, right away (TakeView()->ForEachEntry). The
  // entry is only valid during the call.
  void Snapshot(const std::function<void(const StateEntry&)>& sink) { TakeView()->ForEachEntry(sink); }
  // Adds one snapshotted entry (overwriting an entry with the same key). Entries of key groups
  // outside key_groups() are skipped. A state need not be declared yet: its entries are kept
  // until it is (heap) or written under its name (LMDB).
  virtual void Restore(const StateEntry& entry) = 0;

 protected:
  virtual void OnCurrentKeyChanged() {}

  // Returns the state named `name` if it was created before with the same C++ type, creates it
  // with `make()` if new, and refuses a second type under the same name.
  template <typename S, typename Make>
  S& GetOrCreate(const std::string& name, Make&& make) {
    if (auto it = states_.find(name); it != states_.end()) {
      auto* typed = dynamic_cast<S*>(it->second.get());
      if (!typed) throw StateTypeError("state '" + name + "' was declared with another type");
      return *typed;
    }
    std::unique_ptr<S> state = make();
    S& ref = *state;
    states_.emplace(name, std::move(state));
    return ref;
  }

 private:
  const int max_parallelism_;
  const KeyGroupRange key_groups_;
  K current_key_{};
  uint64_t current_key_hash_ = KeyHasher<K>{}(K{});
  KeyGroup current_key_group_{0};
  Timestamp watermark_ = kMinWatermark;
  Timestamp record_time_ = kMinWatermark;
  std::unordered_map<std::string, std::unique_ptr<KeyedStateBase>> states_;
};

}  // namespace brook
