// Boost.Serialization plumbing behind brook::Serde (serde.h): in-memory stream buffers and a
// binary input archive that distrusts its input. Everything here is an implementation detail;
// include serde.h instead.
//
// Why a custom input archive: boost's own binary_iarchive trusts the sizes it reads. A corrupt
// string length or collection count makes it resize() to that size before noticing the input is
// short, so a few bad bytes can allocate gigabytes, and a corrupt bool trips a BOOST_ASSERT.
// BoundedBinaryIArchive reads the same wire format (it is written by the stock binary_oarchive)
// but checks every size against the bytes that remain and validates bools.
//
// Threading: archives and stream buffers are created per call and used by one thread.
#pragma once

#include <boost/archive/basic_archive.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <vector>

namespace brook::detail {

// A write-only streambuf that appends everything to a byte vector it references.
class ByteVectorStreambuf final : public std::streambuf {
 public:
  explicit ByteVectorStreambuf(std::vector<std::byte>& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto* p = reinterpret_cast<const std::byte*>(s);
    out_.insert(out_.end(), p, p + n);
    return n;
  }
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      out_.push_back(static_cast<std::byte>(traits_type::to_char_type(ch)));
    }
    return traits_type::not_eof(ch);
  }

 private:
  std::vector<std::byte>& out_;
};

// A read-only streambuf over a byte span it does not own. Reading past the end yields EOF, which
// the archive reports as an input_stream_error.
class ByteSpanStreambuf final : public std::streambuf {
 public:
  explicit ByteSpanStreambuf(std::span<const std::byte> in) {
    // std::streambuf wants mutable pointers; the get area is only ever read, and putback of a
    // different character fails (pbackfail is not overridden), so the span is never written.
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(begin, begin, begin + in.size());
  }

  size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};

class BoundedBinaryIArchive;
using BoundedBinaryIArchiveBase =
    boost::archive::binary_iarchive_impl<BoundedBinaryIArchive, char, std::char_traits<char>>;

// Reads what boost::archive::binary_oarchive wrote (flags no_header | no_codecvt), refusing
// sizes larger than the remaining input. Errors are thrown as std::exception subclasses
// (boost::archive::archive_exception or std::length_error); serde.h turns them into SerdeError.
//
// The explicit template instantiations this archive needs live in runtime/src/serde.cc.
class BoundedBinaryIArchive final : public BoundedBinaryIArchiveBase {
 public:
  // REQUIRES: `in` outlives the archive.
  explicit BoundedBinaryIArchive(ByteSpanStreambuf& in)
      : BoundedBinaryIArchiveBase(in, boost::archive::no_header | boost::archive::no_codecvt),
        in_(in) {}

  // Bulk load of arithmetic arrays (vectors of ints, say). Bools are loaded one at a time so
  // each is validated; a byte other than 0 or 1 in a bool is undefined behaviour otherwise.
  template <class V>
  void load_array(boost::serialization::array_wrapper<V>& a, unsigned int version) {
    if constexpr (std::is_same_v<std::remove_cv_t<V>, bool>) {
      for (std::size_t i = 0; i < a.count(); ++i) load(a.address()[i]);
    } else {
      CheckSize(a.count(), sizeof(V), "array");
      BoundedBinaryIArchiveBase::load_array(a, version);
    }
  }

 private:
  // Boost reaches the hooks below through these classes.
  friend class boost::archive::detail::interface_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedBinaryIArchive>;
  friend class boost::archive::basic_binary_iprimitive<BoundedBinaryIArchive, char,
                                                       std::char_traits<char>>;
  friend class boost::archive::load_access;

  template <class T>
  void load_override(T& t) {
    BoundedBinaryIArchiveBase::load_override(t);
  }
  // Element count of a collection: the collection is resized to it before its elements are
  // read, so it must not exceed the remaining bytes (each element takes at least one byte).
  void load_override(boost::serialization::collection_size_type& count) {
    BoundedBinaryIArchiveBase::load_override(count);
    CheckSize(count, 1, "collection");
  }

  using BoundedBinaryIArchiveBase::load;
  void load(bool& b) {
    unsigned char byte = 0;
    load_binary(&byte, 1);
    if (byte > 1) throw std::length_error("invalid bool byte " + std::to_string(byte));
    b = byte == 1;
  }
  void load(std::string& s) {
    std::size_t size = 0;
    load(size);
    CheckSize(size, 1, "string");
    s.resize(size);
    if (size > 0) load_binary(s.data(), size);
  }
  void load(std::wstring& s) {
    std::size_t size = 0;
    load(size);
    CheckSize(size, sizeof(wchar_t), "wstring");
    s.resize(size);
    if (size > 0) load_binary(s.data(), size * sizeof(wchar_t));
  }
  // Raw C strings are loaded into a buffer of unknown size; refuse rather than overflow it.
  [[noreturn]] void load(char*) { throw std::length_error("raw char* members are unsupported"); }
  [[noreturn]] void load(wchar_t*) {
    throw std::length_error("raw wchar_t* members are unsupported");
  }

  void CheckSize(std::size_t count, std::size_t element_size, const char* what) const {
    if (count > in_.remaining() / element_size) {
      throw std::length_error(std::string(what) + " size " + std::to_string(count) +
                              " exceeds the " + std::to_string(in_.remaining()) +
                              " bytes remaining");
    }
  }

  ByteSpanStreambuf& in_;
};

// True when T has a public Boost.Serialization member `serialize(Archive&, unsigned)` usable
// with both archives Serde uses. (A private serialize() befriending boost::serialization::access
// is not visible here; see brook::BoostSerde in serde.h for how to opt such a type in.)
template <typename T>
concept HasBoostSerializeMember = std::is_class_v<T> &&
    requires(T& value, boost::archive::binary_oarchive& out, BoundedBinaryIArchive& in) {
  value.serialize(out, 0u);
  value.serialize(in, 0u);
};

}  // namespace brook::detail

BOOST_SERIALIZATION_REGISTER_ARCHIVE(brook::detail::BoundedBinaryIArchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(brook::detail::BoundedBinaryIArchive)
