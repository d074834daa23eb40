// Key groups: the unit of keyed-state partitioning. A key belongs to key group
// hash(key) % max_parallelism, and subtask i of p owns a contiguous range of key groups, so
// changing p moves whole key groups (that is what makes rescaling possible), as in Flink.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>

#include "brook/runtime/check.h"
#include "brook/runtime/ids.h"

namespace brook {

// Murmur3's 64-bit finalizer: spreads std::hash values, which are the identity for integers.
inline uint64_t MixHash(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// The hash of a key, stable across processes of the same build. Pairs and tuples of hashable
// keys are hashable; other types need std::hash.
template <typename K>
struct KeyHasher {
  uint64_t operator()(const K& key) const { return MixHash(std::hash<K>{}(key)); }
};

template <typename A, typename B>
struct KeyHasher<std::pair<A, B>> {
  uint64_t operator()(const std::pair<A, B>& key) const {
    return MixHash(KeyHasher<A>{}(key.first) * 31 + KeyHasher<B>{}(key.second));
  }
};

template <typename... Ts>
struct KeyHasher<std::tuple<Ts...>> {
  uint64_t operator()(const std::tuple<Ts...>& key) const {
    uint64_t h = 17;
    std::apply([&](const auto&... parts) {
      ((h = h * 31 + KeyHasher<std::decay_t<decltype(parts)>>{}(parts)), ...);
    }, key);
    return MixHash(h);
  }
};

inline KeyGroup KeyGroupForHash(uint64_t hash, int max_parallelism) {
  return KeyGroup(static_cast<int32_t>(hash % static_cast<uint64_t>(max_parallelism)));
}

template <typename K>
KeyGroup KeyGroupFor(const K& key, int max_parallelism) {
  return KeyGroupForHash(KeyHasher<K>{}(key), max_parallelism);
}

// The subtask that owns `key_group` when `max_parallelism` groups are spread over `parallelism`.
inline int SubtaskForKeyGroup(KeyGroup key_group, int max_parallelism, int parallelism) {
  return static_cast<int>(int64_t{key_group.value()} * parallelism / max_parallelism);
}

// The key groups [first, last] owned by one subtask: exactly those SubtaskForKeyGroup maps to it.
struct KeyGroupRange {
  int32_t first = 0;
  int32_t last = -1;

  static KeyGroupRange ForSubtask(int subtask, int max_parallelism, int parallelism) {
    BROOK_CHECK(parallelism > 0 && parallelism <= max_parallelism,
                "parallelism must be in [1, max_parallelism]");
    auto first = (int64_t{subtask} * max_parallelism + parallelism - 1) / parallelism;
    auto last = ((int64_t{subtask} + 1) * max_parallelism + parallelism - 1) / parallelism - 1;
    return {static_cast<int32_t>(first), static_cast<int32_t>(last)};
  }
  bool Contains(KeyGroup g) const { return g.value() >= first && g.value() <= last; }
  int32_t size() const { return last - first + 1; }
  bool operator==(const KeyGroupRange&) const = default;
};

}  // namespace brook
