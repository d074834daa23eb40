// HeapStateTable: the storage of one in-memory keyed state, a hash map from (current key,
// namespace) to the state's value, with TTL bookkeeping. The heap states of
// heap_state_backend.h are thin typed layers over it.
//
// Why this shape:
// - boost::unordered_flat_map (open addressing) keeps small values inline, so an access to a
//   ValueState<int64_t> of an int64 key is one probe and no allocation.
// - Lookups use a HeapKeyRef that points at the backend's current key and carries its hash,
//   computed once per SetCurrentKey: a lookup neither copies a string key nor rehashes it.
// - With TTL off, a cell is exactly the value; with TTL on it also holds the last-access
//   timestamp (kTtl is a template parameter, so states without TTL pay nothing for it).
// - Incremental TTL cleanup, as Flink's heap backend: every TTL'd write examines a few entries
//   from an iterator that persists across calls and erases the expired ones, so a state that
//   keeps inserting new keys (dedup) stays bounded by what is live within the TTL.
//
// Threading: the task thread only, like the backend.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "brook/runtime/key_groups.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/state/state_descriptor.h"
#include "brook/runtime/state/state_encoding.h"

namespace brook {

template <typename K>
class HeapKeyedStateBackend;

namespace state_internal {

template <typename K>
struct HeapKey {
  K key;
  int64_t ns;
};

// A probe for the current key: no copy of the key, its hash computed once by the backend.
template <typename K>
struct HeapKeyRef {
  const K* key;
  int64_t ns;
  uint64_t key_hash;
};

// MixHash(0) == 0, so namespace 0 (every non-window state) costs no mixing of its own.
inline uint64_t CombineKeyHash(uint64_t key_hash, int64_t ns) {
  return key_hash ^ MixHash(static_cast<uint64_t>(ns));
}

template <typename K>
struct HeapKeyHash {
  using is_transparent = void;
  using is_avalanching = void;  // KeyHasher already mixes; boost need not mix again
  size_t operator()(const HeapKey<K>& k) const {
    return CombineKeyHash(KeyHasher<K>{}(k.key), k.ns);
  }
  size_t operator()(const HeapKeyRef<K>& k) const { return CombineKeyHash(k.key_hash, k.ns); }
};

template <typename K>
struct HeapKeyEq {
  using is_transparent = void;
  bool operator()(const HeapKey<K>& a, const HeapKey<K>& b) const {
    return a.ns == b.ns && a.key == b.key;
  }
  bool operator()(const HeapKeyRef<K>& a, const HeapKey<K>& b) const {
    return a.ns == b.ns && *a.key == b.key;
  }
  bool operator()(const HeapKey<K>& a, const HeapKeyRef<K>& b) const { return (*this)(b, a); }
};

// The hash of MapState user keys.
template <typename UK>
struct UserKeyHash {
  using is_avalanching = void;
  size_t operator()(const UK& k) const { return KeyHasher<UK>{}(k); }
};

template <typename T, bool kTtl>
struct HeapCell {
  T value;
};
template <typename T>
struct HeapCell<T, true> {
  T value;
  Timestamp last_access = 0;
};

template <typename K, typename T, bool kTtl>
class HeapStateTable {
 public:
  using Cell = HeapCell<T, kTtl>;
  using Map = boost::unordered_flat_map<HeapKey<K>, Cell, HeapKeyHash<K>, HeapKeyEq<K>>;

  HeapStateTable(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl)
      : backend_(backend), ttl_(ttl) {}

  // The current key's value in `ns`, or null when absent or expired (an expired entry is erased
  // here). A read under kOnReadAndWrite refreshes the entry. Valid until the next insertion.
  T* Find(int64_t ns, bool is_read = true) {
    auto it = map_.find(Ref(ns));
    if (it == map_.end()) return nullptr;
    if constexpr (kTtl) {
      const Timestamp now = Now();
      if (IsExpired(it->second.last_access, ttl_.ttl_ms, now)) {
        Erase(it);
        return nullptr;
      }
      if (is_read && RefreshesOnRead(ttl_)) it->second.last_access = now;
    }
    return &it->second.value;
  }

  // For a write: the current key's value in `ns`, replaced by `init()` first when absent or
  // expired; `.second` says whether it was. Stamps the entry with the current time.
  template <typename Init>
  std::pair<T&, bool> Upsert(int64_t ns, Init&& init) {
    [[maybe_unused]] const Timestamp now = kTtl ? Now() : 0;
    if constexpr (kTtl) CleanupExpired(now);
    auto it = map_.find(Ref(ns));
    if (it != map_.end()) {
      bool fresh = false;
      if constexpr (kTtl) {
        if (IsExpired(it->second.last_access, ttl_.ttl_ms, now)) {
          it->second.value = init();
          fresh = true;
        }
        it->second.last_access = now;
      }
      return {it->second.value, fresh};
    }
    BeforeInsert();
    it = map_.emplace(HeapKey<K>{backend_.current_key(), ns}, MakeCell(init(), now)).first;
    return {it->second.value, true};
  }

  template <typename U>
  void Put(int64_t ns, U&& value) {
    [[maybe_unused]] const Timestamp now = kTtl ? Now() : 0;
    if constexpr (kTtl) CleanupExpired(now);
    auto it = map_.find(Ref(ns));
    if (it != map_.end()) {
      it->second.value = std::forward<U>(value);
      if constexpr (kTtl) it->second.last_access = now;
      return;
    }
    BeforeInsert();
    map_.emplace(HeapKey<K>{backend_.current_key(), ns}, MakeCell(T(std::forward<U>(value)), now));
  }

  void Erase(int64_t ns) {
    auto it = map_.find(Ref(ns));
    if (it != map_.end()) Erase(it);
  }

  // Removes and returns the current key's live value in `ns` (merging namespaces).
  std::optional<T> Take(int64_t ns) {
    T* value = Find(ns, /*is_read=*/false);
    if (!value) return std::nullopt;
    std::optional<T> out(std::move(*value));
    Erase(ns);
    return out;
  }

  // The cell of an arbitrary key, default-inserted if absent (restoring a snapshot).
  Cell& Slot(K key, int64_t ns) {
    const uint64_t hash = KeyHasher<K>{}(key);
    auto it = map_.find(HeapKeyRef<K>{&key, ns, hash});
    if (it != map_.end()) return it->second;
    BeforeInsert();
    return map_.emplace(HeapKey<K>{std::move(key), ns}, Cell{}).first->second;
  }

  // Examines kCleanupEntriesPerWrite entries from where the last call stopped and erases those
  // for which `should_erase(cell)` holds. Call only before a lookup, never while holding a T*.
  template <typename Pred>
  void CleanupSome(Pred&& should_erase) {
    if (map_.empty()) return;
    if (!cleanup_valid_) {
      cleanup_it_ = map_.begin();
      cleanup_valid_ = true;
    }
    for (int i = 0; i < kCleanupEntriesPerWrite && !map_.empty(); ++i) {
      if (cleanup_it_ == map_.end()) cleanup_it_ = map_.begin();
      auto victim = cleanup_it_++;
      if (should_erase(victim->second)) map_.erase(victim);
    }
  }

  bool IsExpiredCell(const Cell& cell, Timestamp now) const {
    if constexpr (kTtl) {
      return IsExpired(cell.last_access, ttl_.ttl_ms, now);
    } else {
      return false;
    }
  }

  Timestamp Now() const { return backend_.TtlNow(ttl_); }
  const StateTtlConfig& ttl() const { return ttl_; }
  const Map& map() const { return map_; }
  size_t size() const { return map_.size(); }

 private:
  HeapKeyRef<K> Ref(int64_t ns) const {
    return {&backend_.current_key(), ns, backend_.current_key_hash()};
  }

  static Cell MakeCell(T value, [[maybe_unused]] Timestamp now) {
    if constexpr (kTtl) {
      return Cell{std::move(value), now};
    } else {
      return Cell{std::move(value)};
    }
  }

  void CleanupExpired(Timestamp now) {
    CleanupSome([&](const Cell& cell) { return IsExpiredCell(cell, now); });
  }

  void Erase(typename Map::iterator it) {
    if (cleanup_valid_ && it == cleanup_it_) ++cleanup_it_;
    map_.erase(it);
  }

  // The flat map rehashes, invalidating every iterator, exactly when an insertion finds
  // size() == max_load(); erasing never moves other elements.
  void BeforeInsert() {
    if (map_.size() >= map_.max_load()) cleanup_valid_ = false;
  }

  HeapKeyedStateBackend<K>& backend_;
  const StateTtlConfig ttl_;
  Map map_;
  typename Map::iterator cleanup_it_{};
  bool cleanup_valid_ = false;
};

using StateSink = std::function<void(const StateEntry&)>;

// The snapshot side of a heap state: it alone knows how to encode its values.
class HeapStateCodec {
 public:
  virtual ~HeapStateCodec() = default;
  // Calls `sink` for every live entry. `entry.state_name` is already set; the codec fills the
  // rest (reusing the strings' capacity).
  virtual void SnapshotEntries(StateEntry& entry, const StateSink& sink) = 0;
  // REQUIRES: the entry's key group is the backend's. Throws SerdeError on undecodable bytes.
  virtual void RestoreEntry(const StateEntry& entry) = 0;
};

// Fills `entry` with the portable encoding of one table entry: `write_value` writes the value
// after the TTL timestamp (if any).
template <typename K, bool kTtl, typename Cell, typename WriteValue>
void EncodeHeapEntry(const K& key, int64_t ns, const Cell& cell, int max_parallelism,
                     std::vector<std::byte>& scratch, StateEntry& entry, WriteValue&& write_value) {
  entry.key_group = KeyGroupFor(key, max_parallelism).value();
  scratch.clear();
  {
    BufferWriter w(scratch);
    Serde<K>::Write(w, key);
  }
  AppendNamespace(scratch, ns);
  AssignBytes(entry.key, scratch);
  scratch.clear();
  if constexpr (kTtl) AppendTimestamp(scratch, cell.last_access);
  {
    BufferWriter w(scratch);
    write_value(w);
  }
  AssignBytes(entry.value, scratch);
}

}  // namespace state_internal
}  // namespace brook
