// HeapStateTable: the storage of one in-memory keyed state, a hash map from (current key,
// namespace) to the state's value, with TTL bookkeeping. The heap states of
// heap_state_backend.h are thin typed layers over it.
//
// Why this shape:
// - Open addressing keeps small values inline, so an access to a ValueState<int64_t> of an
//   int64 key is one probe and no allocation: FlatCopyTable for trivially copyable entries (a
//   snapshot's copy of it is a memcpy), boost::unordered_flat_map for the others.
// - Lookups use a HeapKeyRef that points at the backend's current key and carries its hash,
//   computed once per SetCurrentKey: a lookup neither copies a string key nor rehashes it.
// - With TTL off, a cell is exactly the value; with TTL on it also holds the last-access
//   timestamp (kTtl is a template parameter, so states without TTL pay nothing for it).
// - Snapshots are copy-on-write per key group (see HeapStateTable), so the task thread's part
//   of a checkpoint does not depend on the state's size.
// - Big partitions are allocated in transparent huge pages (LargeTableAllocator): restoring and
//   copying them would otherwise fault in every 4 KiB page, and random access would miss the TLB.
// - Incremental TTL cleanup, as Flink's heap backend: every TTL'd write examines a few entries
//   from an iterator that persists across calls and erases the expired ones, so a state that
//   keeps inserting new keys (dedup) stays bounded by what is live within the TTL.
//
// Threading: the task thread only, like the backend; a HeapStateView (the snapshot side) may be
// read on another thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "brook/runtime/key_groups.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/flat_copy_table.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/state/large_table_allocator.h"
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

// The table is split into one partition per key group of the backend's range, each a flat map
// behind a shared_ptr. That makes a snapshot O(key groups) on the task thread: it shares the
// partitions (SharePartitions) and reads them later, on any thread. Copy-on-write keeps the view
// fixed: the task thread copies a partition that a snapshot still holds before its first change
// to it (MutablePartition), so the snapshot goes on reading the partition as it was at the
// barrier; once the snapshot lets go, writes go in place again. Reads never copy.
template <typename K, typename T, bool kTtl>
class HeapStateTable {
 public:
  using Cell = HeapCell<T, kTtl>;
  // Big partitions live in huge pages (LargeTableAllocator). Trivially copyable entries live in
  // a FlatCopyTable, which copy-on-write copies with memcpy.
  using Map = std::conditional_t<
      std::is_trivially_copyable_v<HeapKey<K>> && std::is_trivially_copyable_v<Cell>,
      FlatCopyTable<HeapKey<K>, Cell, HeapKeyHash<K>, HeapKeyEq<K>, LargeTableAllocator<std::byte>>,
      boost::unordered_flat_map<HeapKey<K>, Cell, HeapKeyHash<K>, HeapKeyEq<K>,
                                LargeTableAllocator<std::pair<const HeapKey<K>, Cell>>>>;
  // The partitions as of SharePartitions(), by key group (key_groups().first + index). Nobody
  // writes to them any more; they may be read on any thread.
  using Partitions = std::vector<std::shared_ptr<const Map>>;

  HeapStateTable(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl)
      : backend_(backend), ttl_(ttl), first_group_(backend.key_groups().first) {
    partitions_.reserve(size_t(std::max(backend.key_groups().size(), 1)));
    for (int32_t i = 0; i < std::max(backend.key_groups().size(), 1); ++i)
      partitions_.push_back(std::make_shared<Map>());
  }

  // The current key's value in `ns`, or null when absent or expired (an expired entry is erased
  // here). A read under kOnReadAndWrite refreshes the entry. Valid until the next write.
  const T* Find(int64_t ns, bool is_read = true) {
    const size_t p = CurrentPartition();
    const Map& map = *partitions_[p];
    auto it = map.find(Ref(ns));
    if (it == map.end()) return nullptr;
    if constexpr (kTtl) {
      const Timestamp now = Now();
      if (IsExpired(it->second.last_access, ttl_.ttl_ms, now) ||
          (is_read && RefreshesOnRead(ttl_))) {
        return FindMutable(ns, is_read);  // erases or refreshes: a write
      }
    }
    return &it->second.value;
  }

  // As Find, for a caller that changes the value in place (the partition is made the task's own
  // first). A read (is_read) under kOnReadAndWrite refreshes the entry.
  T* FindMutable(int64_t ns, bool is_read = false) {
    const size_t p = CurrentPartition();
    Map& map = MutablePartition(p);
    auto it = map.find(Ref(ns));
    if (it == map.end()) return nullptr;
    if constexpr (kTtl) {
      const Timestamp now = Now();
      if (IsExpired(it->second.last_access, ttl_.ttl_ms, now)) {
        EraseAt(map, p, it);
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
    const size_t p = CurrentPartition();
    Map& map = MutablePartition(p);
    auto it = map.find(Ref(ns));
    if (it != map.end()) {
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
    BeforeInsert(map, p);
    it = map.emplace(HeapKey<K>{backend_.current_key(), ns}, MakeCell(init(), now)).first;
    return {it->second.value, true};
  }

  template <typename U>
  void Put(int64_t ns, U&& value) {
    [[maybe_unused]] const Timestamp now = kTtl ? Now() : 0;
    if constexpr (kTtl) CleanupExpired(now);
    const size_t p = CurrentPartition();
    Map& map = MutablePartition(p);
    auto it = map.find(Ref(ns));
    if (it != map.end()) {
      it->second.value = std::forward<U>(value);
      if constexpr (kTtl) it->second.last_access = now;
      return;
    }
    BeforeInsert(map, p);
    map.emplace(HeapKey<K>{backend_.current_key(), ns}, MakeCell(T(std::forward<U>(value)), now));
  }

  void Erase(int64_t ns) {
    const size_t p = CurrentPartition();
    // Looking first spares a copy of a shared partition when there is nothing to erase.
    if (!partitions_[p]->contains(Ref(ns))) return;
    Map& map = MutablePartition(p);
    EraseAt(map, p, map.find(Ref(ns)));
  }

  // Removes and returns the current key's live value in `ns` (merging namespaces).
  std::optional<T> Take(int64_t ns) {
    if (!partitions_[CurrentPartition()]->contains(Ref(ns))) return std::nullopt;
    T* value = FindMutable(ns);
    if (!value) return std::nullopt;
    std::optional<T> out(std::move(*value));
    Erase(ns);
    return out;
  }

  // The cell of an arbitrary key of this backend's key groups, default-inserted if absent
  // (restoring a snapshot). A partition restored into while empty is first sized for as many
  // entries as the largest one restored so far: key groups hold about as many keys each, and
  // growing a big table by doubling costs a rehash of everything in it each time.
  Cell& Slot(K key, int64_t ns) {
    const uint64_t hash = KeyHasher<K>{}(key);
    const size_t p = PartitionOf(KeyGroupForHash(hash, backend_.max_parallelism()));
    Map& map = MutablePartition(p);
    if (map.empty() && restored_partition_size_ > 0) {
      if (p == cleanup_partition_) cleanup_valid_ = false;
      map.reserve(restored_partition_size_);
    }
    auto it = map.find(HeapKeyRef<K>{&key, ns, hash});
    if (it != map.end()) return it->second;
    BeforeInsert(map, p);
    Cell& cell = map.emplace(HeapKey<K>{std::move(key), ns}, Cell{}).first->second;
    restored_partition_size_ = std::max(restored_partition_size_, map.size());
    return cell;
  }

  // Examines up to kCleanupEntriesPerWrite entries from where the last call stopped (visiting
  // each partition at most once per call) and erases those for which `should_erase(cell)` holds
  // (it may also change the cell). Call only before a lookup, never while holding a T*.
  template <typename Pred>
  void CleanupSome(Pred&& should_erase) {
    int examined = 0;
    for (size_t visited = 0;
         examined < kCleanupEntriesPerWrite && visited <= partitions_.size();) {
      Map& map = MutablePartition(cleanup_partition_);  // may invalidate the iterator
      if (!cleanup_valid_) {
        cleanup_it_ = map.begin();
        cleanup_valid_ = true;
      }
      if (cleanup_it_ == map.end()) {
        cleanup_partition_ = (cleanup_partition_ + 1) % partitions_.size();
        cleanup_valid_ = false;
        ++visited;
        continue;
      }
      auto victim = cleanup_it_++;
      ++examined;
      if (should_erase(victim->second)) map.erase(victim);
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
  int32_t first_group() const { return first_group_; }
  // Entries in all partitions. O(key groups).
  size_t size() const {
    size_t n = 0;
    for (const auto& p : partitions_) n += p->size();
    return n;
  }

  // The snapshot side: every partition as it is now, shared. O(key groups); the table copies a
  // shared partition before it next changes it.
  Partitions SharePartitions() const { return Partitions(partitions_.begin(), partitions_.end()); }

 private:
  HeapKeyRef<K> Ref(int64_t ns) const {
    return {&backend_.current_key(), ns, backend_.current_key_hash()};
  }
  size_t PartitionOf(KeyGroup group) const { return size_t(group.value() - first_group_); }
  size_t CurrentPartition() const { return PartitionOf(backend_.current_key_group()); }

  // Partition `p`, the task's own: copied first if a snapshot shares it.
  Map& MutablePartition(size_t p) {
    std::shared_ptr<Map>& partition = partitions_[p];
    if (partition.use_count() > 1) {
      partition = std::make_shared<Map>(std::as_const(*partition));
      backend_.CountPartitionCopy();
      if (p == cleanup_partition_) cleanup_valid_ = false;
    } else {
      // A snapshot that shared the partition has let go (use_count reads 1): its reads happened
      // before its reference was released (an acq_rel decrement), and this fence orders our
      // writes after them.
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *partition;
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

  void EraseAt(Map& map, size_t p, typename Map::iterator it) {
    if (cleanup_valid_ && p == cleanup_partition_ && it == cleanup_it_) ++cleanup_it_;
    map.erase(it);
  }

  // The flat map rehashes, invalidating every iterator, exactly when an insertion finds
  // size() == max_load(); erasing never moves other elements.
  void BeforeInsert(const Map& map, size_t p) {
    if (p == cleanup_partition_ && map.size() >= map.max_load()) cleanup_valid_ = false;
  }

  HeapKeyedStateBackend<K>& backend_;
  const StateTtlConfig ttl_;
  const int32_t first_group_;
  std::vector<std::shared_ptr<Map>> partitions_;  // by key group - first_group_
  size_t cleanup_partition_ = 0;
  typename Map::iterator cleanup_it_{};  // into partitions_[cleanup_partition_]
  bool cleanup_valid_ = false;
  size_t restored_partition_size_ = 0;  // the largest partition Slot() inserted into
};

// One heap state as a snapshot sees it: its partitions as of the barrier and how to encode their
// entries. Read on any thread, one thread at a time.
class HeapStateView {
 public:
  virtual ~HeapStateView() = default;
  // Appends every entry of partition `index` (key group first_group() + index) to `block`, under
  // the state name whose Serde<std::string> encoding is `encoded_name`.
  virtual void AppendPartition(size_t index, std::span<const std::byte> encoded_name,
                               KeyGroupBlock& block) = 0;
};

// The snapshot side of a heap state: it alone knows how to encode its values.
class HeapStateCodec {
 public:
  virtual ~HeapStateCodec() = default;
  // The state as it is now: O(key groups), on the task thread (HeapStateTable::SharePartitions).
  virtual std::unique_ptr<HeapStateView> TakeView() = 0;
  // REQUIRES: the entry's key group is the backend's. Throws SerdeError on undecodable bytes.
  virtual void RestoreEntry(const StateEntry& entry) = 0;
};

// A view over a HeapStateTable's shared partitions. `encode(key, cell, appender)` appends one
// table entry as one or more entries (BlockEntryAppender::Append).
template <typename Table, typename Encode>
class HeapTableView final : public HeapStateView {
 public:
  HeapTableView(const Table& table, Encode encode)
      : partitions_(table.SharePartitions()), encode_(std::move(encode)) {}

  void AppendPartition(size_t index, std::span<const std::byte> encoded_name,
                       KeyGroupBlock& block) override {
    BlockEntryAppender out(block, encoded_name);
    for (const auto& [key, cell] : *partitions_[index]) encode_(key, cell, out);
  }

 private:
  const typename Table::Partitions partitions_;
  Encode encode_;
};

template <typename Table, typename Encode>
std::unique_ptr<HeapStateView> MakeHeapTableView(const Table& table, Encode encode) {
  return std::make_unique<HeapTableView<Table, Encode>>(table, std::move(encode));
}

// Appends one table entry in the portable encoding: the key (Serde<K>, then the namespace) and
// the value (the TTL timestamp if any, then what `write_value(BufferWriter&)` writes).
template <typename K, bool kTtl, typename Cell, typename WriteValue>
void AppendHeapEntry(const K& key, int64_t ns, const Cell& cell, BlockEntryAppender& out,
                     WriteValue&& write_value) {
  out.Append(
      [&](std::vector<std::byte>& bytes) {
        {
          BufferWriter w(bytes);
          Serde<K>::Write(w, key);
        }
        AppendNamespace(bytes, ns);
      },
      [&](std::vector<std::byte>& bytes) {
        if constexpr (kTtl) AppendTimestamp(bytes, cell.last_access);
        BufferWriter w(bytes);
        write_value(w);
      });
}

}  // namespace state_internal
}  // namespace brook
