// The keyed state a user function reads and writes. Every access is scoped to the current key
// (set by the keyed operator before it calls the function) and the current namespace (windows
// use one namespace per window or slice; everything else uses namespace 0).
//
// Threading: the task thread only. Lifetime: owned by the operator's KeyedStateBackend; valid
// until the operator closes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace brook {

// The part every state shares: the namespace of the next accesses.
class KeyedStateBase {
 public:
  virtual ~KeyedStateBase() = default;
  void SetNamespace(int64_t ns) { namespace_ = ns; }
  int64_t current_namespace() const { return namespace_; }
  // Removes the current key's entry in the current namespace.
  virtual void clear() = 0;

 protected:
  int64_t namespace_ = 0;
};

template <typename V>
class ValueState : public KeyedStateBase {
 public:
  virtual std::optional<V> value() = 0;
  virtual void update(const V& value) = 0;
  V valueOr(V fallback) {
    auto v = value();
    return v ? std::move(*v) : std::move(fallback);
  }
};

template <typename V>
class ListState : public KeyedStateBase {
 public:
  virtual void add(const V& value) = 0;
  virtual void addAll(const std::vector<V>& values) = 0;
  // Empty when there is no entry.
  virtual std::vector<V> get() = 0;
  virtual void update(const std::vector<V>& values) = 0;
  // Appends the lists of `sources` to the list of `target`, clearing the sources (session
  // windows merging).
  virtual void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) = 0;
};

template <typename UK, typename UV>
class MapState : public KeyedStateBase {
 public:
  virtual std::optional<UV> get(const UK& key) = 0;
  virtual void put(const UK& key, const UV& value) = 0;
  virtual void remove(const UK& key) = 0;
  virtual bool contains(const UK& key) = 0;
  virtual std::vector<std::pair<UK, UV>> entries() = 0;
  virtual bool isEmpty() = 0;
};

// add() creates the entry when the current key has none in the current namespace (or it
// expired); it returns whether it did, so a caller can do per-entry work once (a window registers
// its timers when its contents are created) without a separate read.
template <typename V>
class ReducingState : public KeyedStateBase {
 public:
  // Stores `value` if there is no entry, else reduce(entry, value). Returns true iff there was no
  // entry (this add created it).
  virtual bool add(const V& value) = 0;
  virtual std::optional<V> get() = 0;
  virtual void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) = 0;
};

// The contract every backend keeps: add() calls the function's CreateAccumulator exactly when
// the entry is absent (never stored, cleared, merged away, or expired), once, and returns true
// exactly then; merging into an absent target takes the merged accumulator without creating one.
template <typename In, typename Acc, typename Out>
class AggregatingState : public KeyedStateBase {
 public:
  // Adds `value` to the entry's accumulator, creating the accumulator first (CreateAccumulator)
  // if the entry is absent. Returns true iff it was absent (this add created the entry).
  virtual bool add(const In& value) = 0;
  virtual std::optional<Out> get() = 0;
  // The accumulator itself, for combining slices of sliding windows.
  virtual std::optional<Acc> accumulator() = 0;
  virtual void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) = 0;
};

}  // namespace brook
