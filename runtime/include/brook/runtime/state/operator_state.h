// OperatorStateStore: the non-keyed state of one operator subtask, as Flink's
// OperatorStateStore. Two kinds, both in memory (they are small: source offsets, buffered
// elements, broadcast rules) and snapshotted to bytes:
//
// - List state (the keyed ListState interface, namespace ignored; MergeNamespaces throws). On a
//   restore with another parallelism the elements are redistributed by the state's mode:
//     kSplit: all old subtasks' elements, concatenated in subtask order, dealt round-robin to
//             the new subtasks (element j goes to subtask j % new_parallelism);
//     kUnion: every new subtask gets every element (each picks what it needs, like Kafka
//             sources that reassign partitions).
// - Broadcast state: a map that the operator keeps identical on every subtask (it changes it
//   only from the broadcast input). On restore every new subtask gets the full map.
//
// Snapshot format: Serde of vector<tuple<name, kind, vector<element bytes>>>, elements encoded
// one by one (Serde<V>, or Serde<pair<K, V>> for broadcast entries), so that Redistribute can
// split and copy them without knowing their types.
//
// Restored states that are not declared yet are kept as raw elements until they are declared
// (then decoded), and passed on unchanged by Snapshot() meanwhile.
//
// Threading: the task thread only. Life cycle: states live as long as the store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "brook/runtime/key_groups.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/keyed_state.h"
#include "brook/runtime/state/keyed_state_backend.h"

namespace brook {

enum class OperatorStateMode : uint8_t { kSplit, kUnion };

// What a state's elements are, in snapshots; decides how Redistribute treats them.
enum class OperatorStateKind : uint8_t { kSplitList = 0, kUnionList = 1, kBroadcast = 2 };

namespace state_internal {
// The type-erased face of an operator state: its elements as encoded strings.
class OperatorStateBase {
 public:
  virtual ~OperatorStateBase() = default;
  virtual void SnapshotElements(std::vector<std::string>& out) const = 0;
  // Adds the elements to the state. Throws SerdeError if they do not decode.
  virtual void RestoreElements(const std::vector<std::string>& elements) = 0;
};

template <typename T>
std::string EncodeElement(const T& value) {
  std::vector<std::byte> bytes = Serialize(value);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

template <typename T>
T DecodeElement(const std::string& element) {
  return Deserialize<T>(std::span<const std::byte>(
      reinterpret_cast<const std::byte*>(element.data()), element.size()));
}
}  // namespace state_internal

template <typename V>
class OperatorListState final : public ListState<V>, public state_internal::OperatorStateBase {
 public:
  void add(const V& value) override { elements_.push_back(value); }
  void addAll(const std::vector<V>& values) override {
    elements_.insert(elements_.end(), values.begin(), values.end());
  }
  std::vector<V> get() override { return elements_; }
  void update(const std::vector<V>& values) override { elements_ = values; }
  void clear() override { elements_.clear(); }
  void MergeNamespaces(int64_t, const std::vector<int64_t>&) override {
    throw std::logic_error("operator list state has no namespaces to merge");
  }

  void SnapshotElements(std::vector<std::string>& out) const override {
    for (const V& v : elements_) out.push_back(state_internal::EncodeElement(v));
  }
  void RestoreElements(const std::vector<std::string>& elements) override {
    for (const std::string& e : elements) elements_.push_back(state_internal::DecodeElement<V>(e));
  }

 private:
  std::vector<V> elements_;
};

// A map that is the same on every subtask of the operator (Flink's BroadcastState).
template <typename K, typename V>
class BroadcastState final : public state_internal::OperatorStateBase {
 public:
  std::optional<V> get(const K& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? std::nullopt : std::optional<V>(it->second);
  }
  void put(const K& key, const V& value) { map_.insert_or_assign(key, value); }
  void remove(const K& key) { map_.erase(key); }
  bool contains(const K& key) const { return map_.contains(key); }
  std::vector<std::pair<K, V>> entries() const { return {map_.begin(), map_.end()}; }
  bool isEmpty() const { return map_.empty(); }
  size_t size() const { return map_.size(); }
  void clear() { map_.clear(); }

  void SnapshotElements(std::vector<std::string>& out) const override {
    for (const auto& [k, v] : map_)
      out.push_back(state_internal::EncodeElement(std::pair<K, V>(k, v)));
  }
  void RestoreElements(const std::vector<std::string>& elements) override {
    for (const std::string& e : elements) {
      auto [k, v] = state_internal::DecodeElement<std::pair<K, V>>(e);
      map_.insert_or_assign(std::move(k), std::move(v));
    }
  }

 private:
  struct Hash {
    size_t operator()(const K& key) const { return KeyHasher<K>{}(key); }
  };
  std::unordered_map<K, V, Hash> map_;
};

class OperatorStateStore {
 public:
  OperatorStateStore() = default;
  OperatorStateStore(const OperatorStateStore&) = delete;
  OperatorStateStore& operator=(const OperatorStateStore&) = delete;

  // The list state `name`, created empty (or from restored elements) on first use. Throws
  // StateTypeError if the name was declared with another type or mode.
  template <typename V>
  ListState<V>& GetListState(const std::string& name,
                             OperatorStateMode mode = OperatorStateMode::kSplit) {
    const OperatorStateKind kind = mode == OperatorStateMode::kSplit
                                       ? OperatorStateKind::kSplitList
                                       : OperatorStateKind::kUnionList;
    return GetOrCreate<OperatorListState<V>>(name, kind);
  }
  template <typename V>
  ListState<V>& GetUnionListState(const std::string& name) {
    return GetListState<V>(name, OperatorStateMode::kUnion);
  }
  template <typename K, typename V>
  BroadcastState<K, V>& GetBroadcastState(const std::string& name) {
    return GetOrCreate<BroadcastState<K, V>>(name, OperatorStateKind::kBroadcast);
  }

  // Every state (and every restored, undeclared one) encoded as bytes.
  std::string Snapshot() const;
  // Adds the states in `bytes` (a Snapshot(), or Redistribute's output for this subtask).
  // Throws SerdeError on corrupt bytes.
  void Restore(std::string_view bytes);

  // The snapshot that subtask `new_subtask` of `new_parallelism` restores from, given the
  // snapshots of all the old subtasks (in subtask order; empty strings for subtasks that had
  // no state). Throws SerdeError on corrupt bytes.
  static std::string Redistribute(const std::vector<std::string>& old_snapshots, int new_subtask,
                                  int new_parallelism);

 private:
  struct Slot {
    OperatorStateKind kind;
    std::unique_ptr<state_internal::OperatorStateBase> state;
  };
  struct RawState {
    OperatorStateKind kind;
    std::vector<std::string> elements;
  };

  template <typename S>
  S& GetOrCreate(const std::string& name, OperatorStateKind kind) {
    if (auto it = states_.find(name); it != states_.end()) {
      auto* typed = dynamic_cast<S*>(it->second.state.get());
      if (!typed || it->second.kind != kind) {
        throw StateTypeError("operator state '" + name + "' was declared with another type");
      }
      return *typed;
    }
    auto state = std::make_unique<S>();
    if (auto it = pending_.find(name); it != pending_.end()) {
      state->RestoreElements(it->second.elements);
      pending_.erase(it);
    }
    S& ref = *state;
    states_.emplace(name, Slot{kind, std::move(state)});
    return ref;
  }

  std::map<std::string, Slot> states_;
  std::map<std::string, RawState> pending_;
};

}  // namespace brook
