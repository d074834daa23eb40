// brook::Serde<T>: the binary encoding of records and state values.
//
// Values that leave a process, enter a state backend or land in a checkpoint are encoded with
// Serde<T>::Write into a BufferWriter and decoded with Serde<T>::Read from a BufferReader.
// The encoding of T is chosen in this order; the first that applies wins:
//
//   1. a specialization of brook::Serde<T> written by the user (full or partial);
//   2. brook::CapnpRecord<S> (capnp_record.h): the flat Cap'n Proto message, length-prefixed;
//   3. a class with a public Boost.Serialization member `template <class A> void serialize(A&,
//      unsigned)`: a headerless binary archive, length-prefixed;
//   4. std::string: length, then bytes;
//   5. std::vector, deque, list, set, map, unordered_set, unordered_map: element count, then the
//      elements (map entries as key then value). A vector whose elements are raw bytes (7 and 8
//      below) is one memcpy;
//   6. std::optional (a 0/1 byte, then the value), std::pair and std::tuple (the members in
//      order), std::array (the elements, no length);
//   7. enums (as their underlying type), arithmetic types (their bytes), bool (one 0/1 byte);
//   8. any other trivially copyable class: its object bytes (memcpy).
// A type none of these cover is not Serializable, and using it is a compile error.
//
// Wire format: lengths and counts are unsigned LEB128 varints. Fixed-size values are written as
// their in-memory bytes, which is little-endian on every host Brook supports (asserted below).
// The memcpy encoding of trivially copyable classes includes their padding and follows their
// layout, so it suits records exchanged between builds of the same job, not long-term storage
// of types whose layout may change (use Cap'n Proto or Boost.Serialization for those).
//
// Malformed input: Read never reads past the end of its input, and checks every decoded length
// against the bytes that remain before allocating for it, so a corrupt length cannot allocate
// more than a small multiple of the input size. Truncated or corrupt input throws SerdeError.
// Raw-byte encodings cannot be validated: a corrupt int is just another int.
//
// Writing a Serde for your type: specialize brook::Serde<MyType> with
//   static void Write(BufferWriter&, const MyType&);
//   static void Read(BufferReader&, MyType& out);   // must throw SerdeError on bad input
// and optionally
//   static constexpr size_t kMinEncodedSize = ...;  // fewest bytes any value takes (default 1;
//                                                   // declare 0 if a value can encode to nothing)
//   static constexpr bool kRawBytes = true;         // Write is exactly the sizeof(T) object
//                                                   // bytes and any such bytes are a valid T
//                                                   // (enables memcpy of arrays of T)
// Declare it before anything asks for Serde<MyType>, as for any template specialization.
// Containers, optionals and Deserialize need default-constructible element types.
//
// Threading: Serde is stateless. BufferWriter and BufferReader are used by one thread at a time.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "brook/runtime/serde_boost.h"

namespace brook {

static_assert(std::endian::native == std::endian::little,
              "brook::Serde writes fixed-size values in host byte order and assumes a "
              "little-endian host");

namespace detail {
template <typename T>
concept TriviallyCopyable = std::is_trivially_copyable_v<T>;
template <typename T>
concept ArithmeticNotBool = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;
template <typename T>
concept Enum = std::is_enum_v<T>;
}  // namespace detail

// Thrown when input cannot be decoded: truncated, corrupt, or exceeding a sanity limit.
class SerdeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Appends encoded values to a byte vector, either its own or one it references.
class BufferWriter {
 public:
  // Writes into a buffer owned by the writer; take it with Release().
  BufferWriter() : out_(&owned_) {}
  // Appends to `out`. REQUIRES: `out` outlives the writer.
  explicit BufferWriter(std::vector<std::byte>& out) : out_(&out) {}

  // The writer points into itself, so it is neither copied nor moved.
  BufferWriter(const BufferWriter&) = delete;
  BufferWriter& operator=(const BufferWriter&) = delete;

  void WriteBytes(const void* data, size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    out_->insert(out_->end(), p, p + size);
  }

  // Writes the object bytes of `value`.
  template <detail::TriviallyCopyable T>
  void Write(const T& value) {
    WriteBytes(&value, sizeof(T));
  }

  // Unsigned LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte.
  void WriteVarint(uint64_t value) {
    std::byte bytes[kMaxVarintBytes];
    WriteBytes(bytes, PutVarint(bytes, value));
  }
  // Zigzag-encoded so that small negative numbers stay short.
  void WriteSignedVarint(int64_t value) { WriteVarint(ZigZag(value)); }

  // The encodings above written straight to `out`, which has room for kMaxVarintBytes; returns
  // the bytes written. For encoders that write through a pointer into room made beforehand.
  static size_t PutVarint(std::byte* out, uint64_t value) {
    size_t n = 0;
    while (value >= 0x80) {
      out[n++] = static_cast<std::byte>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    out[n++] = static_cast<std::byte>(value);
    return n;
  }
  static uint64_t ZigZag(int64_t value) {
    return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  }

  size_t size() const { return out_->size(); }
  std::span<const std::byte> bytes() const { return *out_; }

  // Moves the buffer (owned or referenced) out, leaving it empty.
  std::vector<std::byte> Release() { return std::exchange(*out_, {}); }

  static constexpr size_t kMaxVarintBytes = 10;

 private:
  std::vector<std::byte> owned_;
  std::vector<std::byte>* out_;
};

// Decodes values from a byte span it does not own. Every read is bounds-checked and throws
// SerdeError past the end. REQUIRES: the bytes outlive the reader and any span it returns.
class BufferReader {
 public:
  explicit BufferReader(std::span<const std::byte> data) : data_(data) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }

  void ReadBytes(void* out, size_t size) {
    std::span<const std::byte> bytes = ReadSpan(size);
    if (size > 0) std::memcpy(out, bytes.data(), size);
  }

  // The next `size` bytes, without copying; valid as long as the underlying bytes.
  std::span<const std::byte> ReadSpan(size_t size) {
    if (size > remaining()) [[unlikely]] ThrowTruncated(size);
    std::span<const std::byte> bytes = data_.subspan(pos_, size);
    pos_ += size;
    return bytes;
  }

  // Reads the object bytes of a T.
  template <detail::TriviallyCopyable T>
  T Read() {
    std::array<std::byte, sizeof(T)> bytes;
    ReadBytes(bytes.data(), sizeof(T));
    return std::bit_cast<T>(bytes);
  }

  uint64_t ReadVarint() {
    uint64_t value = 0;
    for (size_t i = 0; i < BufferWriter::kMaxVarintBytes; ++i) {
      const auto byte = static_cast<uint8_t>(Read<std::byte>());
      // The tenth byte holds only the top bit of a 64-bit value.
      if (i == BufferWriter::kMaxVarintBytes - 1 && byte > 1) break;
      value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) return value;
    }
    ThrowVarintOverflow();
  }
  int64_t ReadSignedVarint() {
    const uint64_t zigzag = ReadVarint();
    return static_cast<int64_t>((zigzag >> 1) ^ (0 - (zigzag & 1)));
  }

  // Reads a count of elements each encoded in at least `min_element_size` bytes, and checks it
  // against the remaining input before anyone allocates for it. Elements that may encode to
  // nothing (min_element_size 0) are capped at kMaxEmptyElements instead.
  size_t ReadLength(size_t min_element_size) {
    const uint64_t length = ReadVarint();
    const bool fits = min_element_size == 0 ? length <= kMaxEmptyElements
                                            : length <= remaining() / min_element_size;
    if (!fits) {
      throw SerdeError("brook::Serde: corrupt length " + std::to_string(length) + " at offset " +
                       std::to_string(pos_) + ": only " + std::to_string(remaining()) +
                       " bytes remain");
    }
    return static_cast<size_t>(length);
  }

  // Throws unless the whole input has been consumed.
  void ExpectEnd() const {
    if (!AtEnd()) {
      throw SerdeError("brook::Serde: " + std::to_string(remaining()) +
                       " unexpected trailing bytes at offset " + std::to_string(pos_));
    }
  }

  static constexpr size_t kMaxEmptyElements = size_t{1} << 20;

 private:
  // Out of line and cold, so the reads above stay small enough to inline into decode loops.
  [[noreturn, gnu::cold, gnu::noinline]] void ThrowTruncated(size_t size) const {
    throw SerdeError("brook::Serde: truncated input: need " + std::to_string(size) +
                     " bytes at offset " + std::to_string(pos_) + ", " +
                     std::to_string(remaining()) + " remain");
  }
  [[noreturn, gnu::cold, gnu::noinline]] void ThrowVarintOverflow() const {
    throw SerdeError("brook::Serde: varint overflows 64 bits before offset " +
                     std::to_string(pos_));
  }

  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

namespace detail {
// The built-in encodings, specialized below. The primary has no Write/Read: no encoding.
template <typename T>
struct BuiltinSerde {};
}  // namespace detail

// The encoding of T. Specialize it to give a type its own encoding (see the file comment);
// a user specialization always takes priority over the built-in ones.
template <typename T, typename Enable = void>
struct Serde : detail::BuiltinSerde<T> {};

// True exactly when Serde<T> provides Write and Read, built-in or user-specialized.
template <typename T>
concept Serializable = requires(BufferWriter& w, BufferReader& r, const T& in, T& out) {
  Serde<T>::Write(w, in);
  Serde<T>::Read(r, out);
};

namespace detail {

// The fewest bytes a value encoded by the Serde-like struct S can take (1 unless S says).
template <typename S>
consteval size_t MinEncodedSizeOf() {
  if constexpr (requires { S::kMinEncodedSize; }) {
    return S::kMinEncodedSize;
  } else {
    return 1;
  }
}

template <typename T>
consteval size_t MinEncodedSize() {
  return MinEncodedSizeOf<Serde<T>>();
}

template <typename T>
consteval bool IsRawBytes() {
  if constexpr (requires { Serde<T>::kRawBytes; }) {
    return Serde<T>::kRawBytes;
  } else {
    return false;
  }
}

// Capacity to reserve up front for `count` decoded elements: at most about 1 MiB, so that a
// count that passed the length check but describes big elements cannot allocate much before
// the elements themselves turn out to be missing. Beyond that the container grows as it fills.
template <typename T>
size_t ReserveHint(size_t count) {
  constexpr size_t kMaxUpFront = std::max<size_t>(1, (size_t{1} << 20) / sizeof(T));
  return std::min(count, kMaxUpFront);
}

// Trivially copyable standard types that must not be memcpy'd whole: either they have their
// own encoding here, or they hold a pointer or a discriminator that raw bytes cannot validate.
template <typename T>
inline constexpr bool kIsExcludedStdType = false;
template <typename T>
inline constexpr bool kIsExcludedStdType<std::optional<T>> = true;
template <typename A, typename B>
inline constexpr bool kIsExcludedStdType<std::pair<A, B>> = true;
template <typename... Ts>
inline constexpr bool kIsExcludedStdType<std::tuple<Ts...>> = true;
template <typename... Ts>
inline constexpr bool kIsExcludedStdType<std::variant<Ts...>> = true;
template <typename T, size_t N>
inline constexpr bool kIsExcludedStdType<std::array<T, N>> = true;
template <typename T, size_t N>
inline constexpr bool kIsExcludedStdType<std::span<T, N>> = true;
template <typename C, typename Tr>
inline constexpr bool kIsExcludedStdType<std::basic_string_view<C, Tr>> = true;
template <typename T>
inline constexpr bool kIsExcludedStdType<std::reference_wrapper<T>> = true;

template <typename T>
concept RawBytesClass =
    std::is_class_v<T> && std::is_trivially_copyable_v<T> && !HasBoostSerializeMember<T> &&
    !kIsExcludedStdType<T>;

template <typename T>
concept Element = Serializable<T> && std::default_initializable<T>;

}  // namespace detail

// The Boost.Serialization encoding: a varint byte length, then a binary archive written without
// its header. Built in for classes with a public serialize() member; a class whose serialize()
// is private (befriending boost::serialization::access) opts in with
//   template <> struct brook::Serde<MyType> : brook::BoostSerde<MyType> {};
// Each value gets its own archive, so a large collection of small Boost-serialized values is
// better serialized as one Boost-serialized object.
template <typename T>
struct BoostSerde {
  static void Write(BufferWriter& w, const T& value) {
    std::vector<std::byte> payload;
    {
      detail::ByteVectorStreambuf buffer(payload);
      boost::archive::binary_oarchive archive(
          buffer, boost::archive::no_header | boost::archive::no_codecvt);
      archive << value;
    }
    w.WriteVarint(payload.size());
    w.WriteBytes(payload.data(), payload.size());
  }

  static void Read(BufferReader& r, T& out) {
    const size_t size = r.ReadLength(1);
    detail::ByteSpanStreambuf buffer(r.ReadSpan(size));
    try {
      detail::BoundedBinaryIArchive archive(buffer);
      archive >> out;
    } catch (const std::exception& e) {
      // Boost reports short or corrupt input with archive_exception, the bounded archive with
      // length_error, and a corrupt count may still surface as bad_alloc.
      throw SerdeError(std::string("brook::Serde: corrupt Boost.Serialization payload: ") +
                       e.what());
    }
  }
};

namespace detail {

// --- Scalars -----------------------------------------------------------------------------

template <ArithmeticNotBool T>
struct BuiltinSerde<T> {
  static constexpr bool kRawBytes = true;
  static constexpr size_t kMinEncodedSize = sizeof(T);
  static void Write(BufferWriter& w, T value) { w.Write(value); }
  static void Read(BufferReader& r, T& out) { out = r.Read<T>(); }
};

// One byte, 0 or 1: any other byte would be undefined behaviour as a bool, so it is rejected.
template <>
struct BuiltinSerde<bool> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Write(BufferWriter& w, bool value) { w.Write<uint8_t>(value ? 1 : 0); }
  static void Read(BufferReader& r, bool& out) {
    const auto byte = r.Read<uint8_t>();
    if (byte > 1) throw SerdeError("brook::Serde: invalid bool byte " + std::to_string(byte));
    out = byte == 1;
  }
};

// Encoded as the underlying type's built-in encoding, whatever Serde<underlying> says.
template <Enum T>
struct BuiltinSerde<T> {
  using Underlying = std::underlying_type_t<T>;
  static constexpr bool kRawBytes = !std::is_same_v<Underlying, bool>;
  static constexpr size_t kMinEncodedSize = sizeof(T);
  static void Write(BufferWriter& w, T value) {
    BuiltinSerde<Underlying>::Write(w, static_cast<Underlying>(value));
  }
  static void Read(BufferReader& r, T& out) {
    Underlying value{};
    BuiltinSerde<Underlying>::Read(r, value);
    out = static_cast<T>(value);
  }
};

template <RawBytesClass T>
struct BuiltinSerde<T> {
  static constexpr bool kRawBytes = true;
  static constexpr size_t kMinEncodedSize = sizeof(T);
  static void Write(BufferWriter& w, const T& value) { w.Write(value); }
  static void Read(BufferReader& r, T& out) { r.ReadBytes(&out, sizeof(T)); }
};

template <HasBoostSerializeMember T>
struct BuiltinSerde<T> : BoostSerde<T> {};

template <>
struct BuiltinSerde<std::string> {
  static void Write(BufferWriter& w, const std::string& s) {
    w.WriteVarint(s.size());
    w.WriteBytes(s.data(), s.size());
  }
  static void Read(BufferReader& r, std::string& out) {
    std::span<const std::byte> bytes = r.ReadSpan(r.ReadLength(1));
    out.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
};

// --- Containers ----------------------------------------------------------------------------

// Encodes one map entry as key then value; decodes into a pair with a non-const key.
template <typename K, typename V>
struct MapEntrySerde {
  static constexpr size_t kMinEncodedSize = MinEncodedSize<K>() + MinEncodedSize<V>();
  static void Write(BufferWriter& w, const std::pair<const K, V>& entry) {
    Serde<K>::Write(w, entry.first);
    Serde<V>::Write(w, entry.second);
  }
  static void Read(BufferReader& r, std::pair<K, V>& out) {
    Serde<K>::Read(r, out.first);
    Serde<V>::Read(r, out.second);
  }
};

// A count, then each element encoded by ElementSerde (Serde<value_type>, or MapEntrySerde).
// `Decoded` is what one element decodes into before it is added to the container.
template <typename C, typename Decoded, typename ElementSerde>
struct ContainerSerde {
  static constexpr size_t kMinEncodedSize = 1;

  static void Write(BufferWriter& w, const C& container) {
    w.WriteVarint(container.size());
    for (const auto& element : container) ElementSerde::Write(w, element);
  }

  static void Read(BufferReader& r, C& out) {
    const size_t count = r.ReadLength(MinEncodedSizeOf<ElementSerde>());
    out.clear();
    if constexpr (requires { out.reserve(count); }) out.reserve(ReserveHint<Decoded>(count));
    for (size_t i = 0; i < count; ++i) {
      Decoded element{};
      ElementSerde::Read(r, element);
      if constexpr (requires { out.push_back(std::move(element)); }) {
        out.push_back(std::move(element));
      } else {
        // Sets and maps: elements were written in iteration order, so for ordered containers
        // the end is the right hint. Duplicates (only in corrupt input) are dropped.
        out.emplace_hint(out.end(), std::move(element));
      }
    }
  }
};

template <typename C>
using SequenceSerde = ContainerSerde<C, typename C::value_type, Serde<typename C::value_type>>;
template <typename C>
using MapSerde = ContainerSerde<C, std::pair<typename C::key_type, typename C::mapped_type>,
                                MapEntrySerde<typename C::key_type, typename C::mapped_type>>;

// Vectors of raw-bytes elements are one memcpy each way.
template <Element T, typename A>
struct BuiltinSerde<std::vector<T, A>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Write(BufferWriter& w, const std::vector<T, A>& v) {
    if constexpr (IsRawBytes<T>()) {
      w.WriteVarint(v.size());
      w.WriteBytes(v.data(), v.size() * sizeof(T));
    } else {
      SequenceSerde<std::vector<T, A>>::Write(w, v);
    }
  }
  static void Read(BufferReader& r, std::vector<T, A>& out) {
    if constexpr (IsRawBytes<T>()) {
      const size_t count = r.ReadLength(sizeof(T));
      out.resize(count);
      r.ReadBytes(out.data(), count * sizeof(T));
    } else {
      SequenceSerde<std::vector<T, A>>::Read(r, out);
    }
  }
};

template <Element T, typename A>
struct BuiltinSerde<std::deque<T, A>> : SequenceSerde<std::deque<T, A>> {};
template <Element T, typename A>
struct BuiltinSerde<std::list<T, A>> : SequenceSerde<std::list<T, A>> {};
template <Element T, typename C, typename A>
struct BuiltinSerde<std::set<T, C, A>> : SequenceSerde<std::set<T, C, A>> {};
template <Element T, typename H, typename E, typename A>
struct BuiltinSerde<std::unordered_set<T, H, E, A>>
    : SequenceSerde<std::unordered_set<T, H, E, A>> {};
template <Element K, Element V, typename C, typename A>
struct BuiltinSerde<std::map<K, V, C, A>> : MapSerde<std::map<K, V, C, A>> {};
template <Element K, Element V, typename H, typename E, typename A>
struct BuiltinSerde<std::unordered_map<K, V, H, E, A>>
    : MapSerde<std::unordered_map<K, V, H, E, A>> {};

// --- Optional, pair, tuple, array --------------------------------------------------------

template <Element T>
struct BuiltinSerde<std::optional<T>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Write(BufferWriter& w, const std::optional<T>& value) {
    w.Write<uint8_t>(value.has_value() ? 1 : 0);
    if (value) Serde<T>::Write(w, *value);
  }
  static void Read(BufferReader& r, std::optional<T>& out) {
    const auto tag = r.Read<uint8_t>();
    if (tag == 0) {
      out.reset();
    } else if (tag == 1) {
      Serde<T>::Read(r, out.emplace());
    } else {
      throw SerdeError("brook::Serde: invalid optional tag " + std::to_string(tag));
    }
  }
};

template <Serializable A, Serializable B>
struct BuiltinSerde<std::pair<A, B>> {
  static constexpr size_t kMinEncodedSize = MinEncodedSize<A>() + MinEncodedSize<B>();
  static void Write(BufferWriter& w, const std::pair<A, B>& p) {
    Serde<A>::Write(w, p.first);
    Serde<B>::Write(w, p.second);
  }
  static void Read(BufferReader& r, std::pair<A, B>& out) {
    Serde<A>::Read(r, out.first);
    Serde<B>::Read(r, out.second);
  }
};

template <Serializable... Ts>
struct BuiltinSerde<std::tuple<Ts...>> {
  static constexpr size_t kMinEncodedSize = (size_t{0} + ... + MinEncodedSize<Ts>());
  static void Write(BufferWriter& w, const std::tuple<Ts...>& t) {
    std::apply([&](const Ts&... members) { (Serde<Ts>::Write(w, members), ...); }, t);
  }
  static void Read(BufferReader& r, std::tuple<Ts...>& out) {
    // A comma fold evaluates left to right, so members are read in order.
    std::apply([&](Ts&... members) { (Serde<Ts>::Read(r, members), ...); }, out);
  }
};

template <Serializable T, size_t N>
struct BuiltinSerde<std::array<T, N>> {
  static constexpr bool kRawBytes = IsRawBytes<T>() && sizeof(std::array<T, N>) == N * sizeof(T);
  static constexpr size_t kMinEncodedSize = N * MinEncodedSize<T>();
  static void Write(BufferWriter& w, const std::array<T, N>& a) {
    if constexpr (kRawBytes) {
      w.WriteBytes(a.data(), N * sizeof(T));
    } else {
      for (const T& element : a) Serde<T>::Write(w, element);
    }
  }
  static void Read(BufferReader& r, std::array<T, N>& out) {
    if constexpr (kRawBytes) {
      r.ReadBytes(out.data(), N * sizeof(T));
    } else {
      for (T& element : out) Serde<T>::Read(r, element);
    }
  }
};

}  // namespace detail

// --- Convenience ----------------------------------------------------------------------------

template <Serializable T>
std::vector<std::byte> Serialize(const T& value) {
  BufferWriter writer;
  Serde<T>::Write(writer, value);
  return writer.Release();
}

// Decodes the next T from `reader`.
template <detail::Element T>
T Deserialize(BufferReader& reader) {
  T value{};
  Serde<T>::Read(reader, value);
  return value;
}

// Decodes one T that must span all of `bytes`: trailing bytes throw SerdeError.
template <detail::Element T>
T Deserialize(std::span<const std::byte> bytes) {
  BufferReader reader(bytes);
  T value = Deserialize<T>(reader);
  reader.ExpectEnd();
  return value;
}

}  // namespace brook
