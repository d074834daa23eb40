// FlatCopyTable<Key, Value>: an open-addressing hash map for trivially copyable keys and values
// whose copy is two memcpy calls. The heap backend keeps a keyed state's partitions in it when
// their entries are trivially copyable (HeapStateTable::Map): a copy-on-write snapshot copies
// every partition the task writes to while the snapshot is being written, which with keys
// updated all over the key space is every partition, at every checkpoint. boost's flat map
// copies by re-inserting element by element (a hash, a probe and a scattered write each);
// copying the arrays is several times faster, and into reused memory (LargeTableAllocator) it
// costs no page faults either.
//
// Layout (as boost's and Abseil's "Swiss" tables): one control byte per slot, in groups of 16
// probed with one SSE2 compare; a group is found from the hash's low bits and probed
// triangularly; a control byte is kEmpty, kDeleted (a tombstone) or the hash's top bits (>= 2).
// Erasing never moves elements; inserting moves them all when it rehashes, which happens exactly
// when size() reaches max_load() (HeapStateTable relies on both for its cleanup iterator). An
// erased slot becomes empty again if its group still has an empty slot (no probe ever went past
// such a group), else a tombstone, which a later insertion may reuse; a rehash drops them.
//
// Threading: none; a const table may be read by several threads.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace brook::state_internal {

template <typename Key, typename Value>
struct FlatCopySlot {
  Key first;
  Value second;
};

// Hash: size_t(const Key&) and any transparent probe; Eq: bool(probe, const Key&).
template <typename Key, typename Value, typename Hash, typename Eq, typename Allocator>
class FlatCopyTable {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>,
                "FlatCopyTable copies its slots with memcpy");

 public:
  using value_type = FlatCopySlot<Key, Value>;
  using key_type = Key;

  template <bool kConst>
  class Iterator {
   public:
    using Slot = std::conditional_t<kConst, const value_type, value_type>;
    using Table = std::conditional_t<kConst, const FlatCopyTable, FlatCopyTable>;
    Iterator() = default;
    Iterator(Table* table, size_t index) : table_(table), index_(index) {}
    operator Iterator<true>() const  // NOLINT: converts implicitly, as std iterators do
      requires(!kConst)
    {
      return {table_, index_};
    }

    Slot& operator*() const { return table_->slots_[index_]; }
    Slot* operator->() const { return &table_->slots_[index_]; }
    Iterator& operator++() {
      index_ = table_->NextFull(index_ + 1);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& o) const { return index_ == o.index_; }
    size_t index() const { return index_; }

   private:
    Table* table_ = nullptr;
    size_t index_ = 0;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  FlatCopyTable() = default;
  FlatCopyTable(const FlatCopyTable& o)
      : capacity_(o.capacity_), size_(o.size_), deleted_(o.deleted_) {
    if (capacity_ == 0) return;
    Allocate(capacity_);
    std::memcpy(ctrl_, o.ctrl_, capacity_);
    std::memcpy(static_cast<void*>(slots_), o.slots_, capacity_ * sizeof(value_type));
  }
  FlatCopyTable& operator=(const FlatCopyTable&) = delete;
  ~FlatCopyTable() { Free(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // An insertion rehashes (moving every element) exactly when size() == max_load().
  size_t max_load() const { return MaxLoad(capacity_) - deleted_; }

  iterator begin() { return {this, NextFull(0)}; }
  iterator end() { return {this, capacity_}; }
  const_iterator begin() const { return {this, NextFull(0)}; }
  const_iterator end() const { return {this, capacity_}; }

  template <typename Probe>
  iterator find(const Probe& probe) {
    return {this, FindIndex(probe, Hash{}(probe))};
  }
  template <typename Probe>
  const_iterator find(const Probe& probe) const {
    return {this, FindIndex(probe, Hash{}(probe))};
  }
  template <typename Probe>
  bool contains(const Probe& probe) const {
    return FindIndex(probe, Hash{}(probe)) != capacity_;
  }

  std::pair<iterator, bool> emplace(const Key& key, const Value& value) {
    const size_t hash = Hash{}(key);
    if (size_t at = FindIndex(key, hash); at != capacity_) return {{this, at}, false};
    if (size_ + deleted_ >= MaxLoad(capacity_)) Rehash(size_ + 1);
    const size_t at = FreeIndex(hash);
    if (ctrl_[at] == kDeleted) --deleted_;
    ctrl_[at] = Tag(hash);
    new (&slots_[at]) value_type{key, value};
    ++size_;
    return {{this, at}, true};
  }

  void erase(const_iterator it) {
    const size_t at = it.index();
    const size_t group = at & ~(kGroup - 1);
    if (EmptyMask(ctrl_ + group) != 0) {
      ctrl_[at] = kEmpty;
    } else {
      ctrl_[at] = kDeleted;
      ++deleted_;
    }
    --size_;
  }

  // Room for `n` elements without a rehash.
  void reserve(size_t n) {
    if (n > MaxLoad(capacity_) - deleted_) Rehash(n);
  }

 private:
  static constexpr size_t kGroup = 16;
  static constexpr uint8_t kEmpty = 0;
  static constexpr uint8_t kDeleted = 1;

  static size_t MaxLoad(size_t capacity) { return capacity / 8 * 7; }
  // The group and the tag come from a product of the hash: the low bits of a key's hash are
  // the same for every key of a partition (they pick its key group), so they cannot pick the
  // group; a product's middle and top bits depend on all the bits below them.
  static uint64_t Spread(size_t hash) { return uint64_t(hash) * 0x9E3779B97F4A7C15ull; }
  static uint8_t Tag(size_t hash) {
    const auto tag = uint8_t(Spread(hash) >> 56);
    return tag < 2 ? uint8_t(tag + 2) : tag;
  }
  size_t FirstGroup(size_t hash) const {
    return size_t(Spread(hash) >> 24) & (capacity_ / kGroup - 1);
  }

#if defined(__SSE2__)
  static uint32_t MatchMask(const uint8_t* group, uint8_t tag) {
    const __m128i g = _mm_loadu_si128(reinterpret_cast<const __m128i*>(group));
    return uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8(char(tag)))));
  }
  static uint32_t EmptyMask(const uint8_t* group) { return MatchMask(group, kEmpty); }
  static uint32_t FreeMask(const uint8_t* group) {  // empty or deleted: below 2
    const __m128i g = _mm_loadu_si128(reinterpret_cast<const __m128i*>(group));
    const __m128i free = _mm_cmpeq_epi8(_mm_min_epu8(g, _mm_set1_epi8(1)), g);
    return uint32_t(_mm_movemask_epi8(free));
  }
#else
  static uint32_t MatchMask(const uint8_t* group, uint8_t tag) {
    uint32_t mask = 0;
    for (size_t i = 0; i < kGroup; ++i) mask |= uint32_t(group[i] == tag) << i;
    return mask;
  }
  static uint32_t EmptyMask(const uint8_t* group) { return MatchMask(group, kEmpty); }
  static uint32_t FreeMask(const uint8_t* group) {
    uint32_t mask = 0;
    for (size_t i = 0; i < kGroup; ++i) mask |= uint32_t(group[i] < 2) << i;
    return mask;
  }
#endif

  // The slot holding `probe`, or capacity_.
  template <typename Probe>
  size_t FindIndex(const Probe& probe, size_t hash) const {
    if (capacity_ == 0) return capacity_;
    const uint8_t tag = Tag(hash);
    const size_t group_mask = capacity_ / kGroup - 1;
    size_t group = FirstGroup(hash);
    for (size_t step = 1;; ++step) {
      const uint8_t* ctrl = ctrl_ + group * kGroup;
      for (uint32_t m = MatchMask(ctrl, tag); m != 0; m &= m - 1) {
        const size_t at = group * kGroup + size_t(std::countr_zero(m));
        if (Eq{}(probe, slots_[at].first)) return at;
      }
      if (EmptyMask(ctrl) != 0 || step > group_mask) return capacity_;
      group = (group + step) & group_mask;  // triangular: visits every group
    }
  }

  // The first empty or deleted slot on `hash`'s probe sequence. REQUIRES: one exists.
  size_t FreeIndex(size_t hash) const {
    const size_t group_mask = capacity_ / kGroup - 1;
    size_t group = FirstGroup(hash);
    for (size_t step = 1;; ++step) {
      if (uint32_t m = FreeMask(ctrl_ + group * kGroup); m != 0)
        return group * kGroup + size_t(std::countr_zero(m));
      group = (group + step) & group_mask;
    }
  }

  size_t NextFull(size_t index) const {
    while (index < capacity_ && ctrl_[index] < 2) ++index;
    return index;
  }

  // Moves every element into new arrays with room for `n` (tombstones dropped).
  void Rehash(size_t n) {
    size_t capacity = kGroup;
    while (MaxLoad(capacity) < n) capacity *= 2;
    FlatCopyTable fresh;
    fresh.Allocate(capacity);
    for (size_t i = 0; i < capacity_; ++i) {
      if (ctrl_[i] < 2) continue;
      const size_t hash = Hash{}(slots_[i].first);
      const size_t at = fresh.FreeIndex(hash);
      fresh.ctrl_[at] = Tag(hash);
      std::memcpy(static_cast<void*>(&fresh.slots_[at]), &slots_[i], sizeof(value_type));
    }
    fresh.size_ = size_;
    Swap(fresh);
  }

  void Swap(FlatCopyTable& o) {
    std::swap(block_, o.block_);
    std::swap(ctrl_, o.ctrl_);
    std::swap(slots_, o.slots_);
    std::swap(capacity_, o.capacity_);
    std::swap(size_, o.size_);
    std::swap(deleted_, o.deleted_);
  }

  // One block: the slots, then the control bytes (all empty).
  static size_t BlockBytes(size_t capacity) { return capacity * (sizeof(value_type) + 1); }
  void Allocate(size_t capacity) {
    static_assert(alignof(value_type) <= alignof(std::max_align_t));
    ByteAllocator allocator;
    block_ = allocator.allocate(BlockBytes(capacity));
    slots_ = reinterpret_cast<value_type*>(block_);
    ctrl_ = reinterpret_cast<uint8_t*>(block_ + capacity * sizeof(value_type));
    std::memset(ctrl_, kEmpty, capacity);
    capacity_ = capacity;
  }
  void Free() {
    if (block_ == nullptr) return;
    ByteAllocator().deallocate(block_, BlockBytes(capacity_));
    block_ = nullptr;
  }

  using ByteAllocator = typename std::allocator_traits<Allocator>::template rebind_alloc<std::byte>;

  std::byte* block_ = nullptr;
  value_type* slots_ = nullptr;
  uint8_t* ctrl_ = nullptr;
  size_t capacity_ = 0;  // 0 or a power of two >= kGroup
  size_t size_ = 0;
  size_t deleted_ = 0;
};

}  // namespace brook::state_internal
