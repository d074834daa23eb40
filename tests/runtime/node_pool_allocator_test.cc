#include "brook/runtime/node_pool_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>

namespace brook {
namespace {

using PooledSet = std::set<std::pair<int64_t, std::string>, std::less<>,
                           NodePoolAllocator<std::pair<int64_t, std::string>>>;

// Enough elements for chunks up to the 2 MiB (mapped) size; erased nodes are reused.
TEST(NodePoolAllocator, ASetHoldsManyNodesAndReusesErasedOnes) {
  PooledSet set;
  constexpr int64_t kMany = 200'000;
  for (int64_t i = 0; i < kMany; ++i) set.emplace(i, std::to_string(i));
  for (int64_t i = 0; i < kMany; i += 2) set.erase({i, std::to_string(i)});
  for (int64_t i = 0; i < kMany; i += 2) set.emplace(i, "again");
  ASSERT_EQ(set.size(), size_t(kMany));
  int64_t expected = 0;
  for (const auto& [i, text] : set) {
    ASSERT_EQ(i, expected);
    EXPECT_EQ(text, i % 2 == 0 ? "again" : std::to_string(i));
    ++expected;
  }
}

// A copy (a copy-on-write copy for a snapshot) has a pool of its own: destroying or changing
// either leaves the other intact.
TEST(NodePoolAllocator, ACopiedSetHasItsOwnPool) {
  auto original = std::make_unique<PooledSet>();
  for (int64_t i = 0; i < 10'000; ++i) original->emplace(i, "x");
  PooledSet copy(*original);
  EXPECT_FALSE(copy.get_allocator() == original->get_allocator());
  original->clear();
  for (int64_t i = 0; i < 10'000; ++i) original->emplace(-i, "y");
  original.reset();
  ASSERT_EQ(copy.size(), 10'000u);
  EXPECT_EQ(copy.begin()->first, 0);
  EXPECT_EQ(copy.rbegin()->first, 9'999);
  PooledSet moved(std::move(copy));
  moved.emplace(10'000, "z");
  EXPECT_EQ(moved.size(), 10'001u);
}

}  // namespace
}  // namespace brook
