// HeapKeyedStateBackend<K>: keyed state in memory (StateBackendKind::kMemory), as Flink's
// HashMapStateBackend. Each declared state owns one HeapStateTable (heap_state_table.h): a flat
// hash map from (key, namespace) to the value object, so a ValueState, ReducingState or
// AggregatingState access is one hash probe on the key's cached hash, with no serialization
// and, for trivially copyable K and V, no allocation.
//
// Snapshots: TakeView() shares every table's per-key-group partitions copy-on-write (O(key
// groups) on the task thread); the view serializes them into the portable StateEntry format
// (keyed_state_backend.h) later, on the snapshot executor, while the task writes on (copying a
// partition the view still holds before its first write to it).
// Restoring entries of a state that has not been declared yet keeps them, raw, until the state
// is declared (then they are decoded into it); until then Snapshot passes them on unchanged, so
// a checkpoint taken before the operator declared all its states loses nothing.
//
// Threading: the task thread only. Life cycle: states live as long as the backend.
//
// Include state_backends.h rather than this header: it defines the Get*State members.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "brook/runtime/key_groups.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/heap_map_state.h"
#include "brook/runtime/state/heap_state_table.h"
#include "brook/runtime/state/keyed_state.h"
#include "brook/runtime/state/keyed_state_backend.h"

namespace brook {
namespace state_internal {

// A single-value state (value, reducing, aggregating) over a table of T.
template <typename K, typename T, bool kTtl>
class HeapSingleValueCodec : public HeapStateCodec {
 public:
  HeapSingleValueCodec(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl)
      : backend_(backend), table_(backend, ttl) {}

  std::unique_ptr<HeapStateView> TakeView() override {
    return MakeHeapTableView(table_, [](const auto& key, const auto& cell, BlockEntryAppender& out) {
      AppendHeapEntry<K, kTtl>(key.key, key.ns, cell, out,
                               [&](BufferWriter& w) { Serde<T>::Write(w, cell.value); });
    });
  }

  void RestoreEntry(const StateEntry& entry) override {
    BufferReader key_reader(AsBytes(entry.key));
    K key = Deserialize<K>(key_reader);
    const int64_t ns = ReadNamespace(key_reader);
    key_reader.ExpectEnd();
    BufferReader value_reader(AsBytes(entry.value));
    typename HeapStateTable<K, T, kTtl>::Cell cell{};
    if constexpr (kTtl) cell.last_access = ReadTimestamp(value_reader);
    Serde<T>::Read(value_reader, cell.value);
    value_reader.ExpectEnd();
    table_.Slot(std::move(key), ns) = std::move(cell);
  }

 protected:
  HeapKeyedStateBackend<K>& backend_;
  HeapStateTable<K, T, kTtl> table_;
};

template <typename K, typename V, bool kTtl>
class HeapValueState final : public ValueState<V>, public HeapSingleValueCodec<K, V, kTtl> {
  using Base = HeapSingleValueCodec<K, V, kTtl>;

 public:
  using Base::Base;
  std::optional<V> value() override {
    const V* v = this->table_.Find(this->namespace_);
    return v ? std::optional<V>(*v) : std::nullopt;
  }
  void update(const V& value) override { this->table_.Put(this->namespace_, value); }
  void clear() override { this->table_.Erase(this->namespace_); }
};

template <typename K, typename V, typename F, bool kTtl>
class HeapReducingState final : public ReducingState<V>, public HeapSingleValueCodec<K, V, kTtl> {
  using Base = HeapSingleValueCodec<K, V, kTtl>;

 public:
  HeapReducingState(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl, F reduce)
      : Base(backend, ttl), reduce_(std::move(reduce)) {}

  bool add(const V& value) override {
    auto [current, fresh] = this->table_.Upsert(this->namespace_, [&] { return value; });
    if (!fresh) current = reduce_(std::as_const(current), value);
    return fresh;
  }
  std::optional<V> get() override {
    const V* v = this->table_.Find(this->namespace_);
    return v ? std::optional<V>(*v) : std::nullopt;
  }
  void clear() override { this->table_.Erase(this->namespace_); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    std::optional<V> merged;
    for (int64_t ns : sources) {
      if (ns == target) continue;
      if (std::optional<V> v = this->table_.Take(ns)) {
        merged = merged ? reduce_(std::as_const(*merged), *v) : std::move(*v);
      }
    }
    if (!merged) return;
    auto [current, fresh] = this->table_.Upsert(target, [&] { return *merged; });
    if (!fresh) current = reduce_(std::as_const(current), *merged);
  }

 private:
  F reduce_;
};

template <typename K, typename In, typename F, bool kTtl>
class HeapAggregatingState final : public AggregatingState<In, typename F::Acc, typename F::Out>,
                                   public HeapSingleValueCodec<K, typename F::Acc, kTtl> {
  using Acc = typename F::Acc;
  using Base = HeapSingleValueCodec<K, Acc, kTtl>;

 public:
  HeapAggregatingState(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl, F aggregate)
      : Base(backend, ttl), aggregate_(std::move(aggregate)) {}

  bool add(const In& value) override {
    auto [acc, fresh] =
        this->table_.Upsert(this->namespace_, [&] { return aggregate_.CreateAccumulator(); });
    aggregate_.Add(value, acc);
    return fresh;
  }
  std::optional<typename F::Out> get() override {
    const Acc* acc = this->table_.Find(this->namespace_);
    return acc ? std::optional<typename F::Out>(aggregate_.GetResult(*acc)) : std::nullopt;
  }
  std::optional<Acc> accumulator() override {
    const Acc* acc = this->table_.Find(this->namespace_);
    return acc ? std::optional<Acc>(*acc) : std::nullopt;
  }
  void clear() override { this->table_.Erase(this->namespace_); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    std::optional<Acc> merged;
    for (int64_t ns : sources) {
      if (ns == target) continue;
      if (std::optional<Acc> acc = this->table_.Take(ns)) {
        if (merged) {
          aggregate_.Merge(*acc, *merged);
        } else {
          merged = std::move(acc);
        }
      }
    }
    if (!merged) return;
    auto [current, fresh] = this->table_.Upsert(target, [&] { return *merged; });
    if (!fresh) aggregate_.Merge(*merged, current);
  }

 private:
  F aggregate_;
};

// A list is one table entry holding a vector; TTL applies to the whole list.
template <typename K, typename V, bool kTtl>
class HeapListState final : public ListState<V>, public HeapStateCodec {
 public:
  HeapListState(HeapKeyedStateBackend<K>& backend, const StateTtlConfig& ttl)
      : backend_(backend), table_(backend, ttl) {}

  void add(const V& value) override { List(this->namespace_).push_back(value); }
  void addAll(const std::vector<V>& values) override {
    if (values.empty()) return;
    std::vector<V>& list = List(this->namespace_);
    list.insert(list.end(), values.begin(), values.end());
  }
  std::vector<V> get() override {
    const std::vector<V>* list = table_.Find(this->namespace_);
    return list ? *list : std::vector<V>{};
  }
  // An empty list clears the entry, as in Flink.
  void update(const std::vector<V>& values) override {
    if (values.empty()) {
      clear();
    } else {
      table_.Put(this->namespace_, values);
    }
  }
  void clear() override { table_.Erase(this->namespace_); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    std::vector<V> merged;
    for (int64_t ns : sources) {
      if (ns == target) continue;
      if (std::optional<std::vector<V>> list = table_.Take(ns)) {
        merged.insert(merged.end(), std::make_move_iterator(list->begin()),
                      std::make_move_iterator(list->end()));
      }
    }
    if (merged.empty()) return;
    std::vector<V>& list = List(target);
    list.insert(list.end(), std::make_move_iterator(merged.begin()),
                std::make_move_iterator(merged.end()));
  }

  std::unique_ptr<HeapStateView> TakeView() override {
    return MakeHeapTableView(table_, [](const auto& key, const auto& cell, BlockEntryAppender& out) {
      AppendHeapEntry<K, kTtl>(key.key, key.ns, cell, out, [&](BufferWriter& w) {
        for (const V& v : cell.value) Serde<V>::Write(w, v);
      });
    });
  }

  void RestoreEntry(const StateEntry& entry) override {
    BufferReader key_reader(AsBytes(entry.key));
    K key = Deserialize<K>(key_reader);
    const int64_t ns = ReadNamespace(key_reader);
    key_reader.ExpectEnd();
    BufferReader value_reader(AsBytes(entry.value));
    typename HeapStateTable<K, std::vector<V>, kTtl>::Cell cell{};
    if constexpr (kTtl) cell.last_access = ReadTimestamp(value_reader);
    while (!value_reader.AtEnd()) cell.value.push_back(Deserialize<V>(value_reader));
    table_.Slot(std::move(key), ns) = std::move(cell);
  }

 private:
  std::vector<V>& List(int64_t ns) {
    return table_.Upsert(ns, [] { return std::vector<V>{}; }).first;
  }

  HeapKeyedStateBackend<K>& backend_;
  HeapStateTable<K, std::vector<V>, kTtl> table_;
};

}  // namespace state_internal

template <typename K>
class HeapKeyedStateBackend final : public KeyedStateBackend<K> {
 public:
  HeapKeyedStateBackend(int max_parallelism, KeyGroupRange key_groups)
      : KeyedStateBackend<K>(max_parallelism, key_groups) {}

  StateBackendKind kind() const override { return StateBackendKind::kMemory; }

  // O(states x key groups): shares every table's partitions (copy-on-write) and copies the
  // restored entries of states not declared yet.
  std::unique_ptr<KeyedStateView> TakeView() override {
    std::vector<std::pair<std::string, std::unique_ptr<state_internal::HeapStateView>>> states;
    states.reserve(codecs_.size());
    for (const auto& [name, codec] : codecs_) states.emplace_back(name, codec->TakeView());
    std::vector<StateEntry> undeclared;
    for (const auto& [name, entries] : pending_restore_)
      undeclared.insert(undeclared.end(), entries.begin(), entries.end());
    std::stable_sort(undeclared.begin(), undeclared.end(),
                     [](const StateEntry& a, const StateEntry& b) { return a.key_group < b.key_group; });
    return std::make_unique<View>(this->key_groups(), std::move(states), std::move(undeclared));
  }

  void Restore(const StateEntry& entry) override {
    if (!this->key_groups().Contains(KeyGroup(entry.key_group))) return;
    if (auto it = codecs_.find(entry.state_name); it != codecs_.end()) {
      it->second->RestoreEntry(entry);
    } else {
      pending_restore_[entry.state_name].push_back(entry);
    }
  }

  // Per-key-group tables copied because a view still shared them when the task wrote to them:
  // what views cost the task thread.
  uint64_t partition_copies() const { return partition_copies_; }
  void CountPartitionCopy() { ++partition_copies_; }

  // Entries restored for states not declared yet, held as entries until they are.
  size_t undeclared_entries() const {
    size_t n = 0;
    for (const auto& [name, entries] : pending_restore_) n += entries.size();
    return n;
  }

  // Creation of the typed states, for KeyedStateBackend::Get*State (state_backends.h).
  template <typename V>
  std::unique_ptr<ValueState<V>> MakeValueState(const ValueStateDescriptor<V>& d) {
    using namespace state_internal;
    if (d.ttl.enabled()) return Adopt<HeapValueState<K, V, true>>(d.name, d.ttl);
    return Adopt<HeapValueState<K, V, false>>(d.name, d.ttl);
  }
  template <typename V>
  std::unique_ptr<ListState<V>> MakeListState(const ListStateDescriptor<V>& d) {
    using namespace state_internal;
    if (d.ttl.enabled()) return Adopt<HeapListState<K, V, true>>(d.name, d.ttl);
    return Adopt<HeapListState<K, V, false>>(d.name, d.ttl);
  }
  template <typename UK, typename UV>
  std::unique_ptr<MapState<UK, UV>> MakeMapState(const MapStateDescriptor<UK, UV>& d) {
    using namespace state_internal;
    if (d.ttl.enabled()) return Adopt<HeapMapState<K, UK, UV, true>>(d.name, d.ttl);
    return Adopt<HeapMapState<K, UK, UV, false>>(d.name, d.ttl);
  }
  template <typename V, typename F>
  std::unique_ptr<ReducingState<V>> MakeReducingState(const ReducingStateDescriptor<V, F>& d) {
    using namespace state_internal;
    if (d.ttl.enabled()) return Adopt<HeapReducingState<K, V, F, true>>(d.name, d.ttl, d.reduce);
    return Adopt<HeapReducingState<K, V, F, false>>(d.name, d.ttl, d.reduce);
  }
  template <typename In, typename F>
  std::unique_ptr<AggregatingState<In, typename F::Acc, typename F::Out>> MakeAggregatingState(
      const AggregatingStateDescriptor<In, F>& d) {
    using namespace state_internal;
    if (d.ttl.enabled()) {
      return Adopt<HeapAggregatingState<K, In, F, true>>(d.name, d.ttl, d.aggregate);
    }
    return Adopt<HeapAggregatingState<K, In, F, false>>(d.name, d.ttl, d.aggregate);
  }

 private:
  // Registers a new state for snapshots and hands it the entries restored before it existed.
  template <typename S, typename... Args>
  std::unique_ptr<S> Adopt(const std::string& name, Args&&... args) {
    auto state = std::make_unique<S>(*this, std::forward<Args>(args)...);
    if (auto it = pending_restore_.find(name); it != pending_restore_.end()) {
      for (const StateEntry& entry : it->second) state->RestoreEntry(entry);
      pending_restore_.erase(it);
    }
    codecs_[name] = state.get();
    return state;
  }

  // The backend as of TakeView(): reads the shared partitions key group by key group.
  class View final : public KeyedStateView {
   public:
    View(KeyGroupRange groups,
         std::vector<std::pair<std::string, std::unique_ptr<state_internal::HeapStateView>>> states,
         std::vector<StateEntry> undeclared)
        : groups_(groups), states_(std::move(states)), undeclared_(std::move(undeclared)) {
      for (const auto& [name, state] : states_) encoded_names_.push_back(Serialize(name));
    }

   protected:
    void ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) override {
      KeyGroupBlock block;
      ForEachKeyGroupImpl(block, [&](KeyGroupBlock& b) { b.ForEachEntry(sink); });
    }

    void ForEachKeyGroupImpl(KeyGroupBlock& block, const KeyGroupSink& sink) override {
      size_t next_undeclared = 0;
      for (int32_t index = 0; index < groups_.size(); ++index) {
        block.Reset(groups_.first + index);
        for (size_t s = 0; s < states_.size(); ++s)
          states_[s].second->AppendPartition(size_t(index), encoded_names_[s], block);
        while (next_undeclared < undeclared_.size() &&
               undeclared_[next_undeclared].key_group <= groups_.first + index)
          block.Add(undeclared_[next_undeclared++]);
        if (block.count > 0) sink(block);
      }
    }

    void ReleaseImpl() override {
      states_.clear();
      std::vector<StateEntry>().swap(undeclared_);
    }

   private:
    const KeyGroupRange groups_;
    std::vector<std::pair<std::string, std::unique_ptr<state_internal::HeapStateView>>> states_;
    std::vector<StateEntry> undeclared_;  // by key group
    std::vector<std::vector<std::byte>> encoded_names_;  // Serde<std::string>, by state
  };

  // Ordered, so that snapshots list states in a stable order. The states are owned by the base.
  std::map<std::string, state_internal::HeapStateCodec*> codecs_;
  std::unordered_map<std::string, std::vector<StateEntry>> pending_restore_;
  uint64_t partition_copies_ = 0;
};

}  // namespace brook
