// HeapMapState: the in-memory MapState. One table entry per (key, namespace) holds a flat hash
// map of the user entries; with TTL every user entry carries its own last-access timestamp (as in
// Flink), and incremental cleanup purges the expired user entries of a few table entries per
// write, dropping table entries that become empty.
//
// Threading: the task thread only. Part of heap_state_backend.h; include state_backends.h.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/heap_state_table.h"
#include "brook/runtime/state/keyed_state.h"

namespace brook::state_internal {

template <typename K, typename UK, typename UV, bool kTtl>
class HeapMapState final : public MapState<UK, UV>, public HeapStateCodec {
  using Cell = HeapCell<UV, kTtl>;
  using Inner = boost::unordered_flat_map<UK, Cell, UserKeyHash<UK>>;

 public:
  HeapMapState(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl)
      : backend_(backend), table_(backend, ttl) {}

  std::optional<UV> get(const UK& key) override {
    const Cell* cell = FindCell(key);
    return cell ? std::optional<UV>(cell->value) : std::nullopt;
  }

  void put(const UK& key, const UV& value) override {
    [[maybe_unused]] const Timestamp now = kTtl ? table_.Now() : 0;
    if constexpr (kTtl) Cleanup(now);
    Inner& inner = table_.Upsert(this->namespace_, [] { return Inner{}; }).first;
    Cell& cell = inner[key];
    cell.value = value;
    if constexpr (kTtl) cell.last_access = now;
  }

  void remove(const UK& key) override {
    const Inner* found = table_.Find(this->namespace_, /*is_read=*/false);
    if (!found || !found->contains(key)) return;  // nothing to change: no copy-on-write
    Inner* inner = table_.FindMutable(this->namespace_);
    inner->erase(key);
    if (inner->empty()) table_.Erase(this->namespace_);
  }

  bool contains(const UK& key) override { return FindCell(key) != nullptr; }

  // Live entries in no particular order. Does not refresh TTL.
  std::vector<std::pair<UK, UV>> entries() override {
    std::vector<std::pair<UK, UV>> out;
    const Inner* inner = table_.Find(this->namespace_, /*is_read=*/false);
    if (!inner) return out;
    const Timestamp now = table_.Now();
    out.reserve(inner->size());
    for (const auto& [key, cell] : *inner) {
      if (!IsExpiredEntry(cell, now)) out.emplace_back(key, cell.value);
    }
    return out;
  }

  bool isEmpty() override {
    const Inner* inner = table_.Find(this->namespace_, /*is_read=*/false);
    if (!inner) return true;
    const Timestamp now = table_.Now();
    for (const auto& entry : *inner) {
      if (!IsExpiredEntry(entry.second, now)) return false;
    }
    return true;
  }

  void clear() override { table_.Erase(this->namespace_); }

  // Includes expired entries not cleaned up yet, like the other backend (they read as absent).
  std::unique_ptr<HeapStateView> TakeView() override {
    return MakeHeapTableView(table_, [](const auto& key, const auto& outer, BlockEntryAppender& out) {
      for (const auto& [user_key, cell] : outer.value) {
        out.Append(
            [&](std::vector<std::byte>& bytes) {
              {
                BufferWriter w(bytes);
                Serde<K>::Write(w, key.key);
              }
              AppendNamespace(bytes, key.ns);
              BufferWriter w(bytes);
              Serde<UK>::Write(w, user_key);
            },
            [&](std::vector<std::byte>& bytes) {
              if constexpr (kTtl) AppendTimestamp(bytes, cell.last_access);
              BufferWriter w(bytes);
              Serde<UV>::Write(w, cell.value);
            });
      }
    });
  }

  void RestoreEntry(const StateEntry& entry) override {
    BufferReader key_reader(AsBytes(entry.key));
    K key = Deserialize<K>(key_reader);
    const int64_t ns = ReadNamespace(key_reader);
    UK user_key = Deserialize<UK>(key_reader);
    key_reader.ExpectEnd();
    BufferReader value_reader(AsBytes(entry.value));
    Cell cell{};
    if constexpr (kTtl) cell.last_access = ReadTimestamp(value_reader);
    Serde<UV>::Read(value_reader, cell.value);
    value_reader.ExpectEnd();
    table_.Slot(std::move(key), ns).value[std::move(user_key)] = std::move(cell);
  }

 private:
  bool IsExpiredEntry(const Cell& cell, Timestamp now) const {
    if constexpr (kTtl) {
      return IsExpired(cell.last_access, table_.ttl().ttl_ms, now);
    } else {
      return false;
    }
  }

  // The live user entry `key` of the current key and namespace, or null. Erases it if expired
  // and refreshes it under kOnReadAndWrite (writes, so only then is the table entry made the
  // task's own, copy-on-write). Valid until the next write.
  const Cell* FindCell(const UK& key) {
    const Inner* found = table_.Find(this->namespace_, /*is_read=*/false);
    if (!found) return nullptr;
    auto found_it = found->find(key);
    if (found_it == found->end()) return nullptr;
    if constexpr (!kTtl) {
      return &found_it->second;
    } else {
      if (!IsExpiredEntry(found_it->second, table_.Now()) && !RefreshesOnRead(table_.ttl()))
        return &found_it->second;
      Inner* inner = table_.FindMutable(this->namespace_);
      auto it = inner->find(key);
      const Timestamp now = table_.Now();
      if (IsExpiredEntry(it->second, now)) {
        inner->erase(it);
        if (inner->empty()) table_.Erase(this->namespace_);
        return nullptr;
      }
      if (RefreshesOnRead(table_.ttl())) it->second.last_access = now;
      return &it->second;
    }
  }

  void Cleanup(Timestamp now) {
    table_.CleanupSome([&](auto& outer) {
      boost::unordered::erase_if(outer.value, [&](const auto& user_entry) {
        return IsExpiredEntry(user_entry.second, now);
      });
      return outer.value.empty();
    });
  }

  HeapKeyedStateBackend<K>& backend_;
  HeapStateTable<K, Inner, false> table_;
};

}  // namespace brook::state_internal
