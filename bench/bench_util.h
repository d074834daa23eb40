// What the benchmark drivers share: the generators' key and payload mixing.
#pragma once

#include <cstdint>

namespace brook::bench {

// SplitMix64's finalizer: spreads consecutive indices over all 64 bits, so `SplitMix64(i) % keys`
// is a uniform key for event i that any driver (and its hand-written baseline) can recompute.
constexpr uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace brook::bench
