// StateEntry and KeyGroupBlock: keyed state as snapshots carry it, one entry at a time or a key
// group's entries encoded together. Both keyed state backends, the operators' timers and
// checkpoint storage meet here; a block's bytes are exactly what checkpoint storage keeps for a
// key group.
//
// Threading: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "brook/runtime/serde.h"

namespace brook {

// One entry of keyed state in the portable snapshot format that both backends write and read,
// so a snapshot taken from one backend restores into the other and can be split by key group.
//   key:   Serde<K>(key), namespace (8 bytes big-endian with the sign bit flipped, so byte order
//          is numeric order), and for MapState Serde<UK>(user key);
//   value: with TTL, the 8-byte little-endian last-access timestamp; then Serde<V>(value) (for
//          ListState the elements' encodings back to back, without a count).
// A state must keep its TTL on or off across a restore (the value layout depends on it).
struct StateEntry {
  int32_t key_group = 0;
  std::string state_name;
  std::string key;
  std::string value;
};

// One key group's entries, encoded: `count` entries, each the Serde<std::string> of its state
// name, key and value, back to back. A view that encodes its entries straight into a block (the
// heap backend's tables, BlockEntryAppender) spares building a StateEntry per entry and copying
// it again, which is most of what writing a big snapshot costs.
struct KeyGroupBlock {
  int32_t key_group = 0;
  uint64_t count = 0;
  std::vector<std::byte> bytes;

  void Reset(int32_t group) {
    key_group = group;
    count = 0;
    bytes.clear();
  }
  void Add(const StateEntry& e);
  // Calls sink(entry) for each entry of the block, decoded into one reused StateEntry. Throws
  // SerdeError on bytes that are not an encoding of `count` entries.
  void ForEachEntry(const std::function<void(const StateEntry&)>& sink) const {
    ForEachEntry(key_group, count, bytes, sink);
  }
  // The same over encoded bytes held elsewhere (a block as checkpoint storage read it back).
  static void ForEachEntry(int32_t key_group, uint64_t count, std::span<const std::byte> bytes,
                           const std::function<void(const StateEntry&)>& sink);
};
using KeyGroupSink = std::function<void(KeyGroupBlock&)>;

// Appends the entries of one state to a KeyGroupBlock, encoding them straight into it: no
// StateEntry, no copy of the key or value bytes on the way.
class BlockEntryAppender {
 public:
  // `encoded_name`: the state name's Serde<std::string> encoding, written before every entry.
  BlockEntryAppender(KeyGroupBlock& block, std::span<const std::byte> encoded_name)
      : bytes_(block.bytes), count_(block.count), name_(encoded_name) {}

  // Appends one entry: `write_key(bytes)` and `write_value(bytes)` append the key's and the
  // value's bytes to `bytes` (each gets its length in front, as Serde<std::string> writes it).
  template <typename WriteKey, typename WriteValue>
  void Append(WriteKey&& write_key, WriteValue&& write_value) {
    bytes_.insert(bytes_.end(), name_.begin(), name_.end());
    AppendSized(write_key);
    AppendSized(write_value);
    ++count_;
  }

 private:
  // Writes a one-byte length placeholder, the bytes, then the length; a length of 128 or more
  // takes more varint bytes, made by moving the bytes up (rare: keys and values are small).
  template <typename Write>
  void AppendSized(Write& write) {
    const size_t at = bytes_.size();
    bytes_.push_back(std::byte{0});
    write(bytes_);
    const size_t size = bytes_.size() - at - 1;
    std::byte length[BufferWriter::kMaxVarintBytes];
    const size_t n = BufferWriter::PutVarint(length, size);
    if (n > 1) bytes_.insert(bytes_.begin() + std::ptrdiff_t(at + 1), n - 1, std::byte{0});
    std::memcpy(bytes_.data() + at, length, n);
  }

  std::vector<std::byte>& bytes_;
  uint64_t& count_;
  const std::span<const std::byte> name_;
};

}  // namespace brook
