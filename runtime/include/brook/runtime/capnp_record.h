// CapnpRecord<S>: a record that is one Cap'n Proto struct of schema type S, owned as a flat
// message. It is a plain value: copying deep-copies the words, moving is cheap, and reading its
// fields goes straight to the words with no parse step.
//
//   auto rec = CapnpRecord<Event>::Build([&](Event::Builder e) { e.setId(7); });
//   uint64_t id = rec.reader().getId();
//
// Representation: bytes() is a standard single-segment flat message (one word of segment table,
// then the segment), readable by capnp::FlatArrayMessageReader anywhere. Keeping exactly one
// segment with no far pointers lets reader() use capnp::readMessageUnchecked, which needs no
// MessageReader object. That matters for lifetimes: the returned Reader points into this
// record's words only, so it stays valid as long as the record is neither destroyed nor
// assigned to; and a const reader() mutates nothing, so concurrent readers need no lock. (A
// long-lived FlatArrayMessageReader member would instead charge every read to its traversal
// limit and eventually throw on a record that is read often.) The unchecked read is safe
// because every message comes from our own builder or was validated and re-packed by FromBytes.
//
// Serde<CapnpRecord<S>> writes the word count as a varint, then the words.
//
// Threading: like std::string: const members may be called from any number of threads at once;
// mutation needs exclusive access.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "brook/runtime/serde.h"

namespace brook {

template <typename S>
class CapnpRecord {
 public:
  using Schema = S;

  // An empty record: bytes() is empty and reader() returns S's default values.
  CapnpRecord() = default;

  CapnpRecord(const CapnpRecord& other) : words_(CopyWords(other.words_)) {}
  CapnpRecord& operator=(const CapnpRecord& other) {
    if (this != &other) words_ = CopyWords(other.words_);
    return *this;
  }
  CapnpRecord(CapnpRecord&&) noexcept = default;
  CapnpRecord& operator=(CapnpRecord&&) noexcept = default;

  // Builds a record: `fill` receives the root S::Builder of a fresh message and sets its fields.
  template <std::invocable<typename S::Builder> F>
  static CapnpRecord Build(F&& fill) {
    capnp::MallocMessageBuilder message;
    fill(message.initRoot<S>());
    if (message.getSegmentsForOutput().size() == 1) {
      return CapnpRecord(capnp::messageToFlatArray(message));
    }
    // A large message spilled into more segments: compact it into one.
    return CapnpRecord(CopyToSingleSegment(message.getRoot<S>().asReader()));
  }

  // Decodes a flat message (as produced by bytes(), or by capnp::messageToFlatArray) whose root
  // is an S. The input is validated, copied and compacted; it need not be aligned and is not
  // referenced afterwards. Empty input gives an empty record. Throws SerdeError if the input is
  // not a well-formed message with a struct root, or has trailing bytes.
  static CapnpRecord FromBytes(std::span<const std::byte> bytes) {
    if (bytes.empty()) return CapnpRecord();
    if (bytes.size() % sizeof(capnp::word) != 0) {
      throw SerdeError("brook::CapnpRecord: " + std::to_string(bytes.size()) +
                       " bytes is not a whole number of 8-byte words");
    }
    // Copy into word-aligned storage: the input may sit at any offset inside a frame.
    auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    try {
      capnp::ReaderOptions options;
      // Validation reads the message twice (size, then copy); let large legitimate messages
      // through while keeping Cap'n Proto's default guard against pointer amplification.
      options.traversalLimitInWords =
          std::max<uint64_t>(options.traversalLimitInWords, 4 * uint64_t{words.size()});
      capnp::FlatArrayMessageReader message(words, options);
      if (message.getEnd() != words.end()) {
        throw SerdeError("brook::CapnpRecord: trailing bytes after the Cap'n Proto message");
      }
      return CapnpRecord(CopyToSingleSegment(message.getRoot<S>()));
    } catch (const kj::Exception& e) {
      throw SerdeError(std::string("brook::CapnpRecord: malformed Cap'n Proto message: ") +
                       e.getDescription().cStr());
    }
  }

  // The root struct. Valid while this record is alive and not assigned to (see file comment).
  typename S::Reader reader() const {
    if (words_.size() == 0) return typename S::Reader();
    return capnp::readMessageUnchecked<S>(words_.begin() + kSegmentTableWords);
  }

  // The flat message. Valid while this record is alive and not assigned to.
  std::span<const std::byte> bytes() const {
    return {reinterpret_cast<const std::byte*>(words_.begin()),
            words_.size() * sizeof(capnp::word)};
  }

  bool empty() const { return words_.size() == 0; }

  // Equal when the flat messages are byte-for-byte equal (the same content built differently
  // may compare unequal).
  friend bool operator==(const CapnpRecord& a, const CapnpRecord& b) {
    return std::ranges::equal(a.bytes(), b.bytes());
  }

 private:
  // A single-segment flat message starts with one word: the segment count minus one (0) and
  // the segment's size in words, as two little-endian uint32s.
  static constexpr size_t kSegmentTableWords = 1;

  explicit CapnpRecord(kj::Array<capnp::word> words) : words_(kj::mv(words)) {}

  static kj::Array<capnp::word> CopyWords(const kj::Array<capnp::word>& words) {
    auto copy = kj::heapArray<capnp::word>(words.size());
    if (words.size() > 0)
      std::memcpy(copy.begin(), words.begin(), words.size() * sizeof(capnp::word));
    return copy;
  }

  // Deep-copies `root` into a fresh single-segment flat message with no far pointers, which is
  // what readMessageUnchecked requires. Throws kj::Exception if `root` is malformed.
  static kj::Array<capnp::word> CopyToSingleSegment(typename S::Reader root) {
    const uint64_t segment_words = root.totalSize().wordCount + 1;  // + the root pointer
    if (segment_words > UINT32_MAX) throw SerdeError("brook::CapnpRecord: message too large");
    auto words = kj::heapArray<capnp::word>(kSegmentTableWords + segment_words);
    // copyToUnchecked requires a zeroed buffer.
    std::memset(words.begin(), 0, words.size() * sizeof(capnp::word));
    const uint32_t table[2] = {0, static_cast<uint32_t>(segment_words)};
    std::memcpy(words.begin(), table, sizeof(table));
    capnp::copyToUnchecked(root, words.slice(kSegmentTableWords, words.size()));
    return words;
  }

  // Empty, or a single-segment flat message without far pointers (see file comment).
  kj::Array<capnp::word> words_;
};

namespace detail {

template <typename S>
struct BuiltinSerde<CapnpRecord<S>> {
  static void Write(BufferWriter& w, const CapnpRecord<S>& record) {
    const std::span<const std::byte> bytes = record.bytes();
    w.WriteVarint(bytes.size() / sizeof(capnp::word));
    w.WriteBytes(bytes.data(), bytes.size());
  }
  static void Read(BufferReader& r, CapnpRecord<S>& out) {
    const size_t words = r.ReadLength(sizeof(capnp::word));
    out = CapnpRecord<S>::FromBytes(r.ReadSpan(words * sizeof(capnp::word)));
  }
};

}  // namespace detail
}  // namespace brook
