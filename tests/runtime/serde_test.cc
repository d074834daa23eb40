#include "brook/runtime/serde.h"

#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <array>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "brook/runtime/capnp_record.h"
#include "tests/runtime/serde_test.capnp.h"

namespace brook::serde_test {

enum class Color : uint8_t { kRed = 1, kGreen = 2, kBlue = 200 };
enum Legacy { kLegacyA = -5, kLegacyB = 1 << 20 };

struct Point {
  int32_t x;
  double y;
  char tag;
  friend bool operator==(const Point&, const Point&) = default;
};

// Trivially copyable, but with its own Serde below: the marker byte proves which one ran.
struct Marked {
  int32_t value;
  friend bool operator==(const Marked&, const Marked&) = default;
};
constexpr std::byte kMarker{0xAB};

// A user partial specialization for a template, also trivially copyable.
template <typename T>
struct Boxed {
  T value;
  friend bool operator==(const Boxed&, const Boxed&) = default;
};

// Boost.Serialization with a public serialize().
struct Account {
  std::string owner;
  std::vector<int64_t> balances;
  std::vector<std::string> notes;
  bool active = false;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& owner& balances& notes& active;
  }
  friend bool operator==(const Account&, const Account&) = default;
};

// Trivially copyable, but its serialize() must win over the raw-bytes encoding.
struct BoostPod {
  int32_t a = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& a;
  }
  friend bool operator==(const BoostPod&, const BoostPod&) = default;
};

// Boost.Serialization with the customary private serialize(), opted in explicitly.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string text) : text_(std::move(text)) {}
  const std::string& text() const { return text_; }

 private:
  friend class boost::serialization::access;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& text_;
  }
  std::string text_;
};

// Records the largest single allocation, to show that corrupt lengths allocate little.
inline size_t g_largest_allocation = 0;
template <typename T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <typename U>
  CountingAllocator(const CountingAllocator<U>&) {}
  T* allocate(size_t n) {
    g_largest_allocation = std::max(g_largest_allocation, n * sizeof(T));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(const CountingAllocator&, const CountingAllocator&) = default;
};

}  // namespace brook::serde_test

namespace brook {

template <>
struct Serde<serde_test::Marked> {
  static void Write(BufferWriter& w, const serde_test::Marked& m) {
    w.Write(serde_test::kMarker);
    w.WriteSignedVarint(m.value);
  }
  static void Read(BufferReader& r, serde_test::Marked& out) {
    if (r.Read<std::byte>() != serde_test::kMarker) throw SerdeError("missing marker");
    out.value = static_cast<int32_t>(r.ReadSignedVarint());
  }
};

template <typename T>
struct Serde<serde_test::Boxed<T>> {
  static void Write(BufferWriter& w, const serde_test::Boxed<T>& b) {
    w.Write(serde_test::kMarker);
    Serde<T>::Write(w, b.value);
  }
  static void Read(BufferReader& r, serde_test::Boxed<T>& out) {
    if (r.Read<std::byte>() != serde_test::kMarker) throw SerdeError("missing marker");
    Serde<T>::Read(r, out.value);
  }
};

template <>
struct Serde<serde_test::Secret> : BoostSerde<serde_test::Secret> {};

}  // namespace brook

namespace brook::serde_test {
namespace {

template <typename T>
T RoundTrip(const T& value) {
  return Deserialize<T>(Serialize(value));
}

template <typename T>
void ExpectRoundTrip(const T& value) {
  EXPECT_EQ(RoundTrip(value), value);
}

// Every strict prefix of an encoding must be rejected: encodings are self-delimiting, so a
// prefix can never be a complete value. Each prefix gets its own allocation so that a read past
// its end is caught by AddressSanitizer.
template <typename T>
void ExpectEveryTruncationThrows(const T& value) {
  const std::vector<std::byte> bytes = Serialize(value);
  for (size_t size = 0; size < bytes.size(); ++size) {
    const std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_THROW(Deserialize<T>(prefix), SerdeError) << "prefix of " << size << " bytes";
  }
}

std::vector<std::byte> Varint(uint64_t value) {
  BufferWriter writer;
  writer.WriteVarint(value);
  return writer.Release();
}

template <typename T>
void ExpectSerdeErrorContaining(std::span<const std::byte> bytes, const std::string& text) {
  try {
    Deserialize<T>(bytes);
    ADD_FAILURE() << "decoding did not throw";
  } catch (const SerdeError& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

CapnpRecord<Reading> SampleReading() {
  return CapnpRecord<Reading>::Build([](Reading::Builder r) {
    r.setSensorId(42);
    r.setName("boiler-7");
    r.setValue(98.5);
    auto tags = r.initTags(2);
    tags.set(0, "hot");
    tags.set(1, "basement");
    const kj::byte payload[] = {0, 1, 2, 255};
    r.setPayload(kj::arrayPtr(payload, sizeof(payload)));
    auto location = r.initLocation();
    location.setLatitude(52.5);
    location.setLongitude(13.4);
  });
}

// --- What is serializable --------------------------------------------------------------------

static_assert(Serializable<int>);
static_assert(Serializable<bool>);
static_assert(Serializable<Color>);
static_assert(Serializable<std::string>);
static_assert(Serializable<Point>);
static_assert(Serializable<std::vector<std::map<std::string, std::vector<int>>>>);
static_assert(Serializable<std::tuple<int, std::string, std::optional<double>>>);
static_assert(Serializable<Account>);
static_assert(Serializable<Secret>);
static_assert(Serializable<CapnpRecord<Reading>>);
static_assert(!Serializable<int*>);
static_assert(!Serializable<std::string_view>);
static_assert(!Serializable<std::vector<int*>>);
static_assert(!Serializable<std::optional<const char*>>);
static_assert(!Serializable<std::array<int*, 2>>);
static_assert(!Serializable<std::variant<int, double>>);
static_assert(!Serializable<std::unique_ptr<int>>);

// --- Round trips -----------------------------------------------------------------------------

TEST(Serde, RoundTripsIntegersOfEveryWidth) {
  ExpectRoundTrip<int8_t>(std::numeric_limits<int8_t>::min());
  ExpectRoundTrip<uint8_t>(std::numeric_limits<uint8_t>::max());
  ExpectRoundTrip<int16_t>(std::numeric_limits<int16_t>::min());
  ExpectRoundTrip<uint16_t>(std::numeric_limits<uint16_t>::max());
  ExpectRoundTrip<int32_t>(std::numeric_limits<int32_t>::min());
  ExpectRoundTrip<uint32_t>(std::numeric_limits<uint32_t>::max());
  ExpectRoundTrip<int64_t>(std::numeric_limits<int64_t>::min());
  ExpectRoundTrip<uint64_t>(std::numeric_limits<uint64_t>::max());
  ExpectRoundTrip<char>('x');
  ExpectRoundTrip<char32_t>(U'\U0001F600');
  EXPECT_EQ(Serialize<int64_t>(1).size(), sizeof(int64_t));
}

TEST(Serde, RoundTripsFloatingPointAndBool) {
  ExpectRoundTrip(3.141592653589793);
  ExpectRoundTrip(-0.0f);
  ExpectRoundTrip(std::numeric_limits<double>::infinity());
  ExpectRoundTrip(std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::isnan(RoundTrip(std::numeric_limits<double>::quiet_NaN())));
  ExpectRoundTrip(true);
  ExpectRoundTrip(false);
  EXPECT_EQ(Serialize(true), std::vector<std::byte>{std::byte{1}});
}

TEST(Serde, RoundTripsEnums) {
  ExpectRoundTrip(Color::kBlue);
  ExpectRoundTrip(kLegacyA);
  ExpectRoundTrip(kLegacyB);
  EXPECT_EQ(Serialize(Color::kGreen).size(), 1u);
}

TEST(Serde, RoundTripsStrings) {
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string(100'000, 'q'));
  const std::string with_nuls("a\0b\0\0c", 6);
  ExpectRoundTrip(with_nuls);
  EXPECT_EQ(RoundTrip(with_nuls).size(), 6u);
  EXPECT_EQ(Serialize(std::string("hi")).size(), 3u);  // one length byte, two bytes
}

TEST(Serde, RoundTripsNestedContainers) {
  const std::vector<std::map<std::string, std::vector<int>>> value = {
      {{"a", {1, 2, 3}}, {"", {}}, {"long key", std::vector<int>(1000, -7)}},
      {},
      {{"z", {std::numeric_limits<int>::max()}}},
  };
  ExpectRoundTrip(value);
}

TEST(Serde, RoundTripsEveryContainerKind) {
  ExpectRoundTrip(std::vector<std::string>{"x", "", "yy"});
  ExpectRoundTrip(std::vector<bool>{true, false, true, true});
  ExpectRoundTrip(std::deque<int16_t>{1, -2, 3});
  ExpectRoundTrip(std::list<std::string>{"l1", "l2"});
  ExpectRoundTrip(std::set<int>{5, 1, 3});
  ExpectRoundTrip(std::unordered_set<std::string>{"u", "v", "w"});
  ExpectRoundTrip(std::map<int, std::string>{{2, "two"}, {1, "one"}});
  ExpectRoundTrip(std::unordered_map<std::string, double>{{"pi", 3.14}, {"e", 2.72}});
  ExpectRoundTrip(std::vector<std::tuple<>>(5));
  ExpectRoundTrip(std::vector<int>{});
}

TEST(Serde, WritesVectorsOfRawElementsAsOneBlock) {
  const std::vector<Point> points = {{1, 2.0, 'a'}, {-3, 4.5, 'b'}};
  const std::vector<std::byte> bytes = Serialize(points);
  ASSERT_EQ(bytes.size(), 1 + 2 * sizeof(Point));
  EXPECT_EQ(std::memcmp(bytes.data() + 1, points.data(), 2 * sizeof(Point)), 0);
  ExpectRoundTrip(points);
}

TEST(Serde, RoundTripsOptionals) {
  ExpectRoundTrip(std::optional<int>());
  ExpectRoundTrip(std::optional<int>(17));
  ExpectRoundTrip(std::optional<std::string>("present"));
  ExpectRoundTrip(std::optional<std::vector<std::optional<int>>>({{}, 3, {}}));
}

TEST(Serde, RoundTripsPairsAndTuples) {
  ExpectRoundTrip(std::pair<int, std::string>(7, "seven"));
  ExpectRoundTrip(std::tuple<int8_t, std::string, double, std::vector<int>>(-1, "t", 0.5, {1}));
  ExpectRoundTrip(std::tuple<>());
  EXPECT_TRUE(Serialize(std::tuple<>()).empty());
}

TEST(Serde, RoundTripsArrays) {
  ExpectRoundTrip(std::array<int32_t, 4>{1, -2, 3, -4});
  EXPECT_EQ(Serialize(std::array<int32_t, 4>{}).size(), 16u);  // no length prefix
  ExpectRoundTrip(std::array<std::string, 2>{"left", "right"});
  ExpectRoundTrip(std::vector<std::array<float, 3>>{{1, 2, 3}, {4, 5, 6}});
}

TEST(Serde, RoundTripsTriviallyCopyableStructsAsTheirBytes) {
  const Point point{-12, 6.25, 'p'};
  EXPECT_EQ(Serialize(point).size(), sizeof(Point));
  ExpectRoundTrip(point);
}

TEST(Serde, RoundTripsBoostSerializableClasses) {
  Account account{"ada", {10, -20, std::numeric_limits<int64_t>::max()}, {"first", ""}, true};
  ExpectRoundTrip(account);
  ExpectRoundTrip(Account{});
  ExpectRoundTrip(std::vector<Account>{account, Account{}, account});
  EXPECT_EQ(RoundTrip(Secret("hidden")).text(), "hidden");
}

TEST(Serde, PrefersBoostSerializeOverRawBytes) {
  const std::vector<std::byte> bytes = Serialize(BoostPod{9});
  // A length prefix and an archive, not the four raw bytes of the int.
  EXPECT_NE(bytes.size(), sizeof(BoostPod));
  EXPECT_EQ(static_cast<size_t>(bytes[0]), bytes.size() - 1);
  ExpectRoundTrip(BoostPod{9});
}

TEST(Serde, UserSpecializationTakesPriorityOverRawBytes) {
  const std::vector<std::byte> bytes = Serialize(Marked{-3});
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], kMarker);
  ExpectRoundTrip(Marked{-3});

  // Containers use the user's encoding for each element, not the memcpy block.
  const std::vector<std::byte> vector_bytes = Serialize(std::vector<Marked>{{1}, {2}});
  ASSERT_EQ(vector_bytes.size(), 5u);
  EXPECT_EQ(vector_bytes[1], kMarker);
  EXPECT_EQ(vector_bytes[3], kMarker);
  ExpectRoundTrip(std::vector<Marked>{{1}, {2}});
  ExpectRoundTrip(std::array<Marked, 2>{Marked{5}, Marked{6}});

  // A partial specialization wins too.
  EXPECT_EQ(Serialize(Boxed<int32_t>{4})[0], kMarker);
  ExpectRoundTrip(Boxed<std::string>{"boxed"});
}

TEST(Serde, RoundTripsCapnpRecords) {
  const CapnpRecord<Reading> original = SampleReading();
  const CapnpRecord<Reading> decoded = RoundTrip(original);
  EXPECT_EQ(decoded, original);

  const Reading::Reader r = decoded.reader();
  EXPECT_EQ(r.getSensorId(), 42u);
  EXPECT_EQ(std::string_view(r.getName().cStr()), "boiler-7");
  EXPECT_EQ(r.getValue(), 98.5);
  ASSERT_EQ(r.getTags().size(), 2u);
  EXPECT_EQ(std::string_view(r.getTags()[1].cStr()), "basement");
  ASSERT_EQ(r.getPayload().size(), 4u);
  EXPECT_EQ(r.getPayload()[3], 255);
  EXPECT_EQ(r.getLocation().getLongitude(), 13.4);

  // Records nest in containers like any other value.
  ExpectRoundTrip(std::vector<std::optional<CapnpRecord<Reading>>>{original, {}, original});
}

TEST(CapnpRecord, CopiesAreDeepAndIndependent) {
  CapnpRecord<Reading> a = SampleReading();
  const CapnpRecord<Reading> b = a;
  const Reading::Reader b_reader = b.reader();
  a = CapnpRecord<Reading>::Build([](Reading::Builder r) { r.setSensorId(1); });
  EXPECT_EQ(b_reader.getSensorId(), 42u);
  EXPECT_EQ(a.reader().getSensorId(), 1u);
  EXPECT_NE(a.bytes().data(), b.bytes().data());

  CapnpRecord<Reading> moved = std::move(a);
  EXPECT_EQ(moved.reader().getSensorId(), 1u);
}

TEST(CapnpRecord, EmptyRecordReadsSchemaDefaults) {
  const CapnpRecord<Reading> empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(empty.bytes().empty());
  EXPECT_EQ(empty.reader().getSensorId(), 0u);
  EXPECT_EQ(empty.reader().getTags().size(), 0u);
  EXPECT_TRUE(RoundTrip(empty).empty());
}

TEST(CapnpRecord, BytesAreAStandardFlatMessage) {
  const CapnpRecord<Reading> record = SampleReading();
  const std::span<const std::byte> bytes = record.bytes();
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::FlatArrayMessageReader message(words);
  EXPECT_EQ(message.getRoot<Reading>().getSensorId(), 42u);
}

TEST(CapnpRecord, CompactsLargeMessagesIntoOneSegment) {
  const std::string big(200'000, 'b');  // far beyond the builder's first segment
  const auto record = CapnpRecord<Reading>::Build([&](Reading::Builder r) {
    r.setName("first");
    r.initPayload(static_cast<unsigned>(big.size()));
    r.setName(big);  // orphans the first name; the copy leaves it behind
    r.setSensorId(5);
  });
  uint32_t segment_count_minus_one = 1;
  std::memcpy(&segment_count_minus_one, record.bytes().data(), sizeof(uint32_t));
  EXPECT_EQ(segment_count_minus_one, 0u);
  EXPECT_EQ(record.reader().getName().size(), big.size());
  EXPECT_EQ(record.reader().getPayload().size(), big.size());
  EXPECT_EQ(RoundTrip(record).reader().getSensorId(), 5u);
}

TEST(CapnpRecord, ReadsMessagesFromUnalignedAndMultiSegmentInput) {
  // A multi-segment message as another Cap'n Proto program would send it.
  capnp::MallocMessageBuilder builder(16, capnp::AllocationStrategy::FIXED_SIZE);
  auto root = builder.initRoot<Reading>();
  root.setName(std::string(500, 'm'));
  root.setSensorId(77);
  ASSERT_GT(builder.getSegmentsForOutput().size(), 1u);
  const kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  const auto flat_bytes = flat.asBytes();

  std::vector<std::byte> unaligned(flat_bytes.size() + 1);
  std::memcpy(unaligned.data() + 1, flat_bytes.begin(), flat_bytes.size());
  const auto record =
      CapnpRecord<Reading>::FromBytes(std::span(unaligned).subspan(1, flat_bytes.size()));
  EXPECT_EQ(record.reader().getSensorId(), 77u);
  EXPECT_EQ(record.reader().getName().size(), 500u);
}

// --- Buffers ---------------------------------------------------------------------------------

TEST(BufferWriter, AppendsToAReferencedBuffer) {
  std::vector<std::byte> out = {std::byte{0xEE}};
  {
    BufferWriter writer(out);
    Serde<std::string>::Write(writer, "ab");
    EXPECT_EQ(writer.size(), 4u);
  }
  ASSERT_EQ(out.size(), 4u);
  BufferReader reader{std::span(out).subspan(1)};
  EXPECT_EQ(Deserialize<std::string>(reader), "ab");
  EXPECT_TRUE(reader.AtEnd());
}

TEST(BufferReader, RoundTripsVarintsOfEveryWidth) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, 16383, 16384};
  for (int shift = 14; shift < 64; shift += 7) values.push_back((uint64_t{1} << shift) - 1);
  values.push_back(std::numeric_limits<uint64_t>::max());
  const std::vector<int64_t> signed_values = {
      0, -1, 1, -64, 64, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  BufferWriter writer;
  for (uint64_t v : values) writer.WriteVarint(v);
  for (int64_t v : signed_values) writer.WriteSignedVarint(v);
  BufferReader reader(writer.bytes());
  for (uint64_t v : values) EXPECT_EQ(reader.ReadVarint(), v);
  for (int64_t v : signed_values) EXPECT_EQ(reader.ReadSignedVarint(), v);
  EXPECT_TRUE(reader.AtEnd());
  EXPECT_EQ(Varint(std::numeric_limits<uint64_t>::max()).size(), BufferWriter::kMaxVarintBytes);
}

TEST(BufferReader, RejectsVarintsLongerThanSixtyFourBits) {
  std::vector<std::byte> overlong(10, std::byte{0xFF});
  overlong.push_back(std::byte{0x01});
  BufferReader reader(overlong);
  EXPECT_THROW(reader.ReadVarint(), SerdeError);

  std::vector<std::byte> tenth_byte_too_big(9, std::byte{0xFF});
  tenth_byte_too_big.push_back(std::byte{0x02});
  BufferReader reader2(tenth_byte_too_big);
  EXPECT_THROW(reader2.ReadVarint(), SerdeError);
}

// --- Malformed input ---------------------------------------------------------------------------

TEST(Serde, RejectsTruncatedInputOfEveryKind) {
  ExpectEveryTruncationThrows<int64_t>(-5);
  ExpectEveryTruncationThrows(3.5);
  ExpectEveryTruncationThrows(true);
  ExpectEveryTruncationThrows(Color::kBlue);
  ExpectEveryTruncationThrows(std::string("truncate me"));
  ExpectEveryTruncationThrows(std::string(300, 'x'));  // two-byte length
  ExpectEveryTruncationThrows(std::vector<int>{1, 2, 3});
  ExpectEveryTruncationThrows(
      std::vector<std::map<std::string, std::vector<int>>>{{{"k", {1, 2}}, {"l", {}}}, {}});
  ExpectEveryTruncationThrows(std::deque<std::string>{"a", "bc"});
  ExpectEveryTruncationThrows(std::list<int>{4, 5});
  ExpectEveryTruncationThrows(std::set<std::string>{"s", "t"});
  ExpectEveryTruncationThrows(std::unordered_set<int>{1, 2});
  ExpectEveryTruncationThrows(std::unordered_map<int, std::string>{{1, "one"}});
  ExpectEveryTruncationThrows(std::optional<std::string>("o"));
  ExpectEveryTruncationThrows(std::pair<int, std::string>(1, "p"));
  ExpectEveryTruncationThrows(std::tuple<int, bool, std::string>(1, true, "t"));
  ExpectEveryTruncationThrows(std::array<int16_t, 3>{1, 2, 3});
  ExpectEveryTruncationThrows(std::array<std::string, 2>{"x", "y"});
  ExpectEveryTruncationThrows(Point{1, 2.0, 'c'});
  ExpectEveryTruncationThrows(Account{"owner", {1, 2}, {"n"}, true});
  ExpectEveryTruncationThrows(Marked{300});
  ExpectEveryTruncationThrows(SampleReading());
}

TEST(Serde, RejectsHugeLengthsWithoutAllocating) {
  const std::vector<std::byte> huge = Varint(uint64_t{1} << 61);
  const std::vector<std::byte> big = Varint(uint64_t{1} << 28);  // would be gigabytes if trusted
  g_largest_allocation = 0;
  for (const auto* bytes : {&huge, &big}) {
    ExpectSerdeErrorContaining<std::string>(*bytes, "corrupt length");
    ExpectSerdeErrorContaining<std::vector<uint64_t, CountingAllocator<uint64_t>>>(
        *bytes, "corrupt length");
    ExpectSerdeErrorContaining<std::vector<std::string, CountingAllocator<std::string>>>(
        *bytes, "corrupt length");
    ExpectSerdeErrorContaining<std::deque<int, CountingAllocator<int>>>(*bytes, "corrupt length");
    ExpectSerdeErrorContaining<
        std::map<int, int, std::less<>, CountingAllocator<std::pair<const int, int>>>>(
        *bytes, "corrupt length");
    ExpectSerdeErrorContaining<std::vector<std::tuple<>>>(*bytes, "corrupt length");
    ExpectSerdeErrorContaining<Account>(*bytes, "corrupt length");
    ExpectSerdeErrorContaining<CapnpRecord<Reading>>(*bytes, "corrupt length");
  }
  EXPECT_LT(g_largest_allocation, 4096u);

  // A count that fits the input, followed by garbage instead of elements, allocates a bounded
  // amount up front (the container grows further only as elements actually decode).
  std::vector<std::byte> few = Varint(1'000'000);
  few.resize(few.size() + 1'000'000, std::byte{0xFF});
  g_largest_allocation = 0;
  EXPECT_THROW((Deserialize<std::vector<std::string, CountingAllocator<std::string>>>(few)),
               SerdeError);
  EXPECT_LE(g_largest_allocation, size_t{1} << 21);
}

TEST(Serde, RejectsCorruptCountsInsideBoostPayloads) {
  // Rewrite the element count of Account::balances to a huge value.
  std::vector<std::byte> bytes = Serialize(Account{"o", {1, 2, 3}, {}, false});
  bool patched = false;
  for (size_t i = 1; i + sizeof(uint64_t) <= bytes.size(); ++i) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, sizeof(word));
    if (word == 3) {  // the first 8-byte 3 is the count of balances
      const uint64_t huge = uint64_t{1} << 40;
      std::memcpy(bytes.data() + i, &huge, sizeof(huge));
      patched = true;
      break;
    }
  }
  ASSERT_TRUE(patched);
  ExpectSerdeErrorContaining<Account>(bytes, "exceeds");
}

TEST(Serde, RejectsInvalidTagsAndTrailingBytes) {
  EXPECT_THROW(Deserialize<bool>(std::vector<std::byte>{std::byte{2}}), SerdeError);
  EXPECT_THROW(Deserialize<std::optional<int>>(std::vector<std::byte>{std::byte{7}}), SerdeError);
  std::vector<std::byte> bytes = Serialize(int32_t{1});
  bytes.push_back(std::byte{0});
  EXPECT_THROW(Deserialize<int32_t>(bytes), SerdeError);
}

TEST(CapnpRecord, RejectsCorruptMessages) {
  using Record = CapnpRecord<Reading>;
  const CapnpRecord<Reading> sample = SampleReading();
  const std::vector<std::byte> good(sample.bytes().begin(), sample.bytes().end());

  // Not a whole number of words.
  EXPECT_THROW(Record::FromBytes(std::span(good).first(good.size() - 3)), SerdeError);
  // Missing its last word.
  EXPECT_THROW(Record::FromBytes(std::span(good).first(good.size() - 8)), SerdeError);
  // Trailing words.
  std::vector<std::byte> trailing = good;
  trailing.resize(trailing.size() + 8);
  EXPECT_THROW(Record::FromBytes(trailing), SerdeError);
  // A segment table claiming a huge segment or a huge segment count.
  std::vector<std::byte> huge_segment = good;
  const uint32_t huge = 0x7fffffff;
  std::memcpy(huge_segment.data() + 4, &huge, 4);
  EXPECT_THROW(Record::FromBytes(huge_segment), SerdeError);
  std::vector<std::byte> many_segments = good;
  std::memcpy(many_segments.data(), &huge, 4);
  EXPECT_THROW(Record::FromBytes(many_segments), SerdeError);
  // A root struct pointer whose offset points far outside the segment.
  std::vector<std::byte> wild_pointer = good;
  const uint64_t pointer = (uint64_t{1} << 32) | (uint64_t{0x1000000} << 2);  // struct, offset 16M
  std::memcpy(wild_pointer.data() + 8, &pointer, 8);
  EXPECT_THROW(Record::FromBytes(wild_pointer), SerdeError);
  // A root that is a list, not a struct.
  std::vector<std::byte> list_root = good;
  const uint64_t list_pointer = 1 | (uint64_t{2} << 32) | (uint64_t{1} << 35);  // 1 byte list
  std::memcpy(list_root.data() + 8, &list_pointer, 8);
  EXPECT_THROW(Record::FromBytes(list_root), SerdeError);
  // Through Serde as well.
  BufferWriter writer;
  writer.WriteVarint(good.size() / 8);
  writer.WriteBytes(wild_pointer.data(), wild_pointer.size());
  EXPECT_THROW(Deserialize<Record>(writer.bytes()), SerdeError);
}

// Flips bytes of valid encodings at random: decoding must succeed or throw SerdeError, and never
// touch memory it should not (run under AddressSanitizer to see that).
template <typename T>
void ExpectCorruptionIsSafe(const T& value, std::mt19937& rng) {
  const std::vector<std::byte> bytes = Serialize(value);
  if (bytes.empty()) return;
  std::uniform_int_distribution<size_t> position(0, bytes.size() - 1);
  std::uniform_int_distribution<int> byte_value(0, 255);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::byte> corrupt = bytes;
    const int flips = 1 + trial % 4;
    for (int i = 0; i < flips; ++i) corrupt[position(rng)] = std::byte(byte_value(rng));
    try {
      Deserialize<T>(corrupt);
    } catch (const SerdeError&) {
    }
  }
}

TEST(Serde, SurvivesRandomlyCorruptedInput) {
  std::mt19937 rng(20240607);
  ExpectCorruptionIsSafe(
      std::vector<std::map<std::string, std::vector<int>>>{{{"key", {1, 2, 3}}, {"other", {4}}},
                                                           {{"x", {}}}},
      rng);
  ExpectCorruptionIsSafe(
      std::tuple<std::optional<std::string>, std::set<int>, bool>("s", {1, 2, 3}, true), rng);
  ExpectCorruptionIsSafe(Account{"owner", {1, 2, 3}, {"a", "bb"}, true}, rng);
  ExpectCorruptionIsSafe(SampleReading(), rng);
}

}  // namespace
}  // namespace brook::serde_test
