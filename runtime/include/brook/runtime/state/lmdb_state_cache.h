// LmdbStateCache<K, T>: the write-back cache in front of one single-value LMDB state (value,
// reducing, aggregating). Recently used (key, namespace) entries stay deserialized in a flat hash
// map, so the read-modify-write of a hot entry (a window's accumulator, say) is one hash probe on
// the key's cached hash instead of an LMDB get, a Serde round trip and an LMDB put: the B-tree
// searches of those two calls were most of a keyed window's time on LMDB.
//
// Coherence with LMDB, per cached cell:
//   dirty      the cell is newer than LMDB's entry and must be written back;
//   persisted  LMDB may hold an entry for it. False only when known absent, so clearing an entry
//              that never left the cache (a fired window's contents, typically) costs nothing.
// Dirty cells are written (into the environment's long-lived write transaction) when they are
// evicted, and by WriteBack(), which the backend calls before Flush(), before snapshots and on
// close, so a snapshot sees every update made before it. Drop() writes back and forgets
// everything (the backend calls it before Restore() writes entries straight into LMDB).
//
// Bounded: at most `capacity` cells. An insertion into a full cache sweeps it, CLOCK-like: cells
// not used since the previous sweep are evicted (dirty ones written back); if the used ones still
// fill more than 3/4 of it, arbitrary cells go until half is free. So state larger than the cache
// (or than memory) works, at LMDB's speed for the part that does not fit. The bound counts cells,
// not bytes: a state of large values needs a smaller StateBackendConfig::lmdb_cache_entries.
//
// TTL: cells keep their last-access time as the heap backend's do. An expired cell is dropped
// when met (and LMDB's entry deleted if persisted), and is never written back.
//
// Threading: the task thread only. Life cycle: owned by its state, which the backend owns;
// WriteBack()/Drop() run while the backend is alive. Part of lmdb_state_backend.h.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/heap_state_table.h"  // HeapKey, HeapKeyRef and their hash
#include "brook/runtime/state/lmdb_environment.h"
#include "brook/runtime/state/state_descriptor.h"
#include "brook/runtime/state/state_encoding.h"

namespace brook {

template <typename K>
class LmdbKeyedStateBackend;

namespace state_internal {

using Bytes = std::span<const std::byte>;

// What the backend needs of every cache, whatever its types.
class LmdbCachedState {
 public:
  virtual ~LmdbCachedState() = default;
  // Writes the dirty cells into the write transaction; they stay cached, clean.
  virtual void WriteBack() = 0;
  // WriteBack(), then forgets every cell.
  virtual void Drop() = 0;
};

template <typename K, typename T>
class LmdbStateCache final : public LmdbCachedState {
 public:
  // REQUIRES: `backend` outlives the cache. A capacity below 1 counts as 1.
  LmdbStateCache(LmdbKeyedStateBackend<K>& backend, uint16_t id, const StateTtlConfig& ttl,
                 size_t capacity)
      : backend_(backend),
        env_(backend.env()),
        id_(id),
        ttl_(ttl),
        capacity_(capacity < 1 ? 1 : capacity) {}
  LmdbStateCache(const LmdbStateCache&) = delete;
  LmdbStateCache& operator=(const LmdbStateCache&) = delete;

  // The current key's live value in `ns`, or null when absent (or expired: then deleted). Loads
  // it from LMDB on a miss. A read (`is_read`) under kOnReadAndWrite refreshes its timestamp.
  // The pointer is valid until the next call on this cache.
  T* Find(int64_t ns, bool is_read) {
    Cell* cell = FindCell(ns, is_read);
    return cell ? &cell->value : nullptr;
  }

  // For a write: the current key's value in `ns`, made by `init()` when absent (`.second` says
  // so; CreateAccumulator runs exactly then). The caller may change it in place; it is marked
  // dirty and stamped with the time. Valid until the next call on this cache.
  template <typename Init>
  std::pair<T&, bool> Upsert(int64_t ns, Init&& init) {
    Cell* cell = FindCell(ns, /*is_read=*/false);
    const bool created = cell == nullptr;
    // Not found: FindCell made sure LMDB holds no live entry.
    if (created) cell = &Insert(ns, init(), /*persisted=*/false);
    MarkWritten(*cell);
    return {cell->value, created};
  }

  // Replaces the current key's value in `ns` without reading the old one (not even from LMDB).
  template <typename U>
  void Put(int64_t ns, U&& value) {
    auto it = map_.find(Ref(ns));
    Cell* cell;
    if (it != map_.end()) {
      cell = &it->second;
      cell->value = std::forward<U>(value);
      cell->referenced = true;
    } else {
      // Unknown whether LMDB has an entry: a later clear must delete there too.
      cell = &Insert(ns, T(std::forward<U>(value)), /*persisted=*/true);
    }
    MarkWritten(*cell);
  }

  // Removes the current key's entry in `ns`, here and in LMDB.
  void Erase(int64_t ns) {
    auto it = map_.find(Ref(ns));
    if (it == map_.end()) {
      env_.Delete(backend_.StateKey(id_, ns));
      return;
    }
    if (it->second.persisted) env_.Delete(backend_.StateKey(id_, ns));
    map_.erase(it);
  }

  // Removes and returns the current key's live value in `ns` (merging namespaces).
  std::optional<T> Take(int64_t ns) {
    if (FindCell(ns, /*is_read=*/false) == nullptr) return std::nullopt;
    auto it = map_.find(Ref(ns));
    std::optional<T> out(std::move(it->second.value));
    if (it->second.persisted) env_.Delete(backend_.StateKey(id_, ns));
    map_.erase(it);
    return out;
  }

  void WriteBack() override {
    if (map_.empty()) return;
    const Timestamp now = Now();
    boost::unordered::erase_if(map_, [&](auto& entry) {
      if (IsExpiredCell(entry.second, now)) {
        if (entry.second.persisted) env_.Delete(EncodeKey(entry.first));
        return true;
      }
      if (entry.second.dirty) WriteCell(entry.first, entry.second);
      return false;
    });
  }

  void Drop() override {
    if (map_.empty()) return;  // a restore drops caches per entry: clearing is O(capacity)
    WriteBack();
    map_.clear();
  }

  size_t size() const { return map_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Cell {
    T value;
    Timestamp last_access = 0;  // TTL states only
    bool dirty = false;
    bool persisted = false;
    bool referenced = true;  // used since the last sweep
  };
  using Map = boost::unordered_flat_map<HeapKey<K>, Cell, HeapKeyHash<K>, HeapKeyEq<K>>;

  HeapKeyRef<K> Ref(int64_t ns) const {
    return {&backend_.current_key(), ns, backend_.current_key_hash()};
  }
  Timestamp Now() const { return ttl_.enabled() ? backend_.TtlNow(ttl_) : 0; }
  bool IsExpiredCell(const Cell& cell, Timestamp now) const {
    return ttl_.enabled() && IsExpired(cell.last_access, ttl_.ttl_ms, now);
  }

  Cell* FindCell(int64_t ns, bool is_read) {
    auto it = map_.find(Ref(ns));
    if (it == map_.end()) return Load(ns, is_read);
    Cell& cell = it->second;
    cell.referenced = true;
    if (ttl_.enabled()) {
      const Timestamp now = Now();
      if (IsExpiredCell(cell, now)) {
        if (cell.persisted) env_.Delete(backend_.StateKey(id_, ns));
        map_.erase(it);
        return nullptr;
      }
      if (is_read && RefreshesOnRead(ttl_)) {
        cell.last_access = now;
        cell.dirty = true;
      }
    }
    return &cell;
  }

  // A miss: reads LMDB's entry into the cache. Null when LMDB holds no live entry.
  Cell* Load(int64_t ns, bool is_read) {
    const Bytes key = backend_.StateKey(id_, ns);
    std::optional<Bytes> raw = env_.Get(key);
    if (!raw) return nullptr;
    BufferReader reader(*raw);
    Timestamp last_access = 0;
    if (ttl_.enabled()) {
      last_access = ReadTimestamp(reader);
      if (IsExpired(last_access, ttl_.ttl_ms, Now())) {
        env_.Delete(key);
        return nullptr;
      }
    }
    T value = Deserialize<T>(reader);  // before Insert, which may write (and move *raw)
    Cell& cell = Insert(ns, std::move(value), /*persisted=*/true);
    cell.last_access = last_access;
    if (is_read && RefreshesOnRead(ttl_)) {
      cell.last_access = Now();
      cell.dirty = true;
    }
    return &cell;
  }

  Cell& Insert(int64_t ns, T value, bool persisted) {
    if (map_.size() >= capacity_) Sweep();
    Cell cell{std::move(value)};
    cell.persisted = persisted;
    return map_.emplace(HeapKey<K>{backend_.current_key(), ns}, std::move(cell)).first->second;
  }

  void MarkWritten(Cell& cell) {
    cell.dirty = true;
    if (ttl_.enabled()) {
      const Timestamp now = Now();
      cell.last_access = now;
      backend_.CleanupAfterTtlWrite(ttl_, now);  // LMDB's part; touches no cell
    }
  }

  // Evicts the cells not used since the last sweep, then, if the cache is still more than 3/4
  // full, arbitrary cells until it is half empty. Dirty cells are written back as they go.
  void Sweep() {
    const Timestamp now = Now();
    auto evict = [&](const HeapKey<K>& key, Cell& cell) {
      if (IsExpiredCell(cell, now)) {
        if (cell.persisted) env_.Delete(EncodeKey(key));
      } else if (cell.dirty) {
        WriteCell(key, cell);
      }
    };
    boost::unordered::erase_if(map_, [&](auto& entry) {
      if (entry.second.referenced) {
        entry.second.referenced = false;
        return false;
      }
      evict(entry.first, entry.second);
      return true;
    });
    if (map_.size() <= capacity_ / 4 * 3) return;
    size_t excess = map_.size() - capacity_ / 2;
    boost::unordered::erase_if(map_, [&](auto& entry) {
      if (excess == 0) return false;
      --excess;
      evict(entry.first, entry.second);
      return true;
    });
  }

  void WriteCell(const HeapKey<K>& key, Cell& cell) {
    value_buffer_.clear();
    if (ttl_.enabled()) AppendTimestamp(value_buffer_, cell.last_access);
    {
      BufferWriter writer(value_buffer_);
      Serde<T>::Write(writer, cell.value);
    }
    env_.Put(EncodeKey(key), value_buffer_);
    cell.dirty = false;
    cell.persisted = true;
  }

  // The LMDB key of a cached cell (of any key, not only the current one).
  Bytes EncodeKey(const HeapKey<K>& key) {
    backend_.EncodeStateKey(key.key, id_, key.ns, key_buffer_);
    return key_buffer_;
  }

  LmdbKeyedStateBackend<K>& backend_;
  LmdbEnvironment& env_;
  const uint16_t id_;
  const StateTtlConfig ttl_;
  const size_t capacity_;
  Map map_;
  // Scratch for write-back; the backend's key buffer holds the current key and is left alone.
  std::vector<std::byte> key_buffer_;
  std::vector<std::byte> value_buffer_;
};

}  // namespace state_internal
}  // namespace brook
