#include "brook/runtime/state/flat_copy_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "brook/runtime/state/large_table_allocator.h"

namespace brook::state_internal {
namespace {

struct Value {
  int64_t a;
  int64_t b;
};

// A weak hash, so that keys collide within groups and probe sequences run long.
struct WeakHash {
  size_t operator()(uint64_t k) const { return size_t(k % 97) * 0x9E3779B97F4A7C15ull; }
};
struct Eq {
  bool operator()(uint64_t a, uint64_t b) const { return a == b; }
};
struct GoodHash {
  size_t operator()(uint64_t k) const {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return size_t(k ^ (k >> 33));
  }
};

template <typename Hash>
using Table = FlatCopyTable<uint64_t, Value, Hash, Eq, LargeTableAllocator<std::byte>>;

// The table's contents as an ordered map, by iterating it.
template <typename T>
std::map<uint64_t, int64_t> Contents(const T& table) {
  std::map<uint64_t, int64_t> out;
  for (const auto& [key, value] : table) EXPECT_TRUE(out.emplace(key, value.a).second) << key;
  return out;
}

template <typename Hash>
void RandomOperationsAgreeWithStdMap(uint64_t key_space, int operations) {
  Table<Hash> table;
  std::map<uint64_t, int64_t> expected;
  std::mt19937_64 rng(42);
  for (int i = 0; i < operations; ++i) {
    const uint64_t key = rng() % key_space;
    switch (rng() % 4) {
      case 0:
      case 1: {  // insert or update
        auto [it, inserted] = table.emplace(key, Value{i, -i});
        EXPECT_EQ(inserted, !expected.contains(key));
        it->second.a = i;
        expected[key] = i;
        break;
      }
      case 2: {  // erase
        auto it = table.find(key);
        ASSERT_EQ(it != table.end(), expected.contains(key)) << key;
        if (it != table.end()) table.erase(it);
        expected.erase(key);
        break;
      }
      default: {  // look up
        auto it = table.find(key);
        ASSERT_EQ(it != table.end(), expected.contains(key)) << key;
        if (it != table.end()) {
          EXPECT_EQ(it->second.a, expected[key]);
        }
      }
    }
    ASSERT_EQ(table.size(), expected.size());
  }
  EXPECT_EQ(Contents(table), expected);
}

TEST(FlatCopyTableTest, RandomOperationsAgreeWithAnOrderedMap) {
  RandomOperationsAgreeWithStdMap<GoodHash>(5'000, 200'000);
}

TEST(FlatCopyTableTest, CollidingHashesStillFindEveryKeyAfterErasures) {
  // 97 distinct hashes for 3,000 keys: long probe sequences through full groups and tombstones.
  RandomOperationsAgreeWithStdMap<WeakHash>(3'000, 100'000);
}

TEST(FlatCopyTableTest, ACopyIsIndependentOfTheOriginal) {
  Table<GoodHash> table;
  for (uint64_t k = 0; k < 100'000; ++k) table.emplace(k, Value{int64_t(k), 0});
  for (uint64_t k = 0; k < 100'000; k += 3) table.erase(table.find(k));
  const Table<GoodHash> copy(table);
  EXPECT_EQ(Contents(copy), Contents(table));

  for (uint64_t k = 1; k < 100'000; k += 3) table.find(k)->second.a = -1;
  table.emplace(1'000'000, Value{7, 7});
  for (uint64_t k = 0; k < 100'000; ++k) {
    auto it = copy.find(k);
    if (k % 3 == 0) {
      EXPECT_TRUE(it == copy.end()) << k;
    } else {
      ASSERT_TRUE(it != copy.end()) << k;
      EXPECT_EQ(it->second.a, int64_t(k));
    }
  }
  EXPECT_FALSE(copy.contains(uint64_t{1'000'000}));
  EXPECT_EQ(copy.size(), 66'666u);
}

TEST(FlatCopyTableTest, RehashesExactlyWhenSizeReachesMaxLoad) {
  Table<GoodHash> table;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t key = rng() % 20'000;
    if (rng() % 3 == 0) {
      if (auto it = table.find(key); it != table.end()) table.erase(it);
      continue;
    }
    if (table.contains(key)) continue;
    const bool rehashes = table.size() >= table.max_load();
    const auto first = table.begin();
    const Value* first_slot = first == table.end() ? nullptr : &first->second;
    table.emplace(key, Value{});
    if (!rehashes && first_slot != nullptr) {
      ASSERT_EQ(&table.find(first->first)->second, first_slot);
    }
  }
}

TEST(FlatCopyTableTest, ErasingDuringIterationVisitsEveryOtherElementOnce) {
  Table<GoodHash> table;
  for (uint64_t k = 0; k < 10'000; ++k) table.emplace(k, Value{});
  size_t visited = 0;
  for (auto it = table.begin(); it != table.end();) {
    auto victim = it++;
    ++visited;
    if (victim->first % 2 == 0) table.erase(victim);
  }
  EXPECT_EQ(visited, 10'000u);
  EXPECT_EQ(table.size(), 5'000u);
  for (const auto& [key, value] : table) EXPECT_EQ(key % 2, 1u);
}

// Every key of a heap partition has the same hash modulo the max parallelism (that is how it
// got there), so the table must not pick groups by the hash's low bits: all keys would start in
// a few groups and probe through long runs of full ones. Compares, per lookup of an absent key,
// are what such runs cost (a tag matches 1 slot in ~254).
struct SameLowBitsHash {
  size_t operator()(uint64_t k) const { return size_t(GoodHash{}(k) << 7 | 5); }
};
struct CountingEq {
  static inline uint64_t calls = 0;
  bool operator()(uint64_t a, uint64_t b) const {
    ++calls;
    return a == b;
  }
};

TEST(FlatCopyTableTest, KeysWhoseHashesShareTheLowBitsDoNotCluster) {
  FlatCopyTable<uint64_t, Value, SameLowBitsHash, CountingEq, LargeTableAllocator<std::byte>> table;
  constexpr uint64_t kKeys = 100'000;
  for (uint64_t k = 0; k < kKeys; ++k) table.emplace(k, Value{});
  CountingEq::calls = 0;
  for (uint64_t k = kKeys; k < 2 * kKeys; ++k) ASSERT_FALSE(table.contains(k));
  // Spread out: about 0.1 compares per lookup. Clustered in 1/128 of the groups: hundreds.
  EXPECT_LT(double(CountingEq::calls) / kKeys, 1.0);
}

TEST(FlatCopyTableTest, ReserveMakesRoomWithoutRehashing) {
  Table<GoodHash> table;
  table.reserve(100'000);
  const size_t room = table.max_load();
  EXPECT_GE(room, 100'000u);
  for (uint64_t k = 0; k < 100'000; ++k) table.emplace(k, Value{});
  EXPECT_EQ(table.max_load(), room);
}

}  // namespace
}  // namespace brook::state_internal
