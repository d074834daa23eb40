#include "brook/runtime/state/key_group_block.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brook {
namespace {

std::vector<std::byte> Bytes(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

// BlockEntryAppender writes each length before knowing it; lengths of 128 and more take more
// than the one byte it reserves. Both must encode as Add (Serde of the strings) does.
TEST(KeyGroupBlock, AppendedEntriesEncodeAsAddedOnesAtEveryLengthSize) {
  const std::string name = "state";
  std::vector<StateEntry> entries;
  for (size_t value_size : {0, 1, 127, 128, 300, 20'000})
    entries.push_back({7, name, "key" + std::to_string(value_size), std::string(value_size, 'v')});

  KeyGroupBlock added, appended;
  added.Reset(7);
  appended.Reset(7);
  const std::vector<std::byte> encoded_name = Serialize(name);
  BlockEntryAppender out(appended, encoded_name);
  for (const StateEntry& e : entries) {
    added.Add(e);
    const std::vector<std::byte> key = Bytes(e.key), value = Bytes(e.value);
    out.Append([&](std::vector<std::byte>& b) { b.insert(b.end(), key.begin(), key.end()); },
               [&](std::vector<std::byte>& b) { b.insert(b.end(), value.begin(), value.end()); });
  }
  EXPECT_EQ(appended.count, entries.size());
  EXPECT_EQ(appended.bytes, added.bytes);

  std::vector<StateEntry> decoded;
  appended.ForEachEntry([&](const StateEntry& e) { decoded.push_back(e); });
  ASSERT_EQ(decoded.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(decoded[i].key_group, 7);
    EXPECT_EQ(decoded[i].state_name, name);
    EXPECT_EQ(decoded[i].key, entries[i].key);
    EXPECT_EQ(decoded[i].value, entries[i].value);
  }
}

TEST(KeyGroupBlock, ACountBeyondTheBytesIsRefused) {
  KeyGroupBlock block;
  block.Reset(1);
  block.Add({1, "s", "k", "v"});
  block.count = 2;
  EXPECT_THROW(block.ForEachEntry([](const StateEntry&) {}), SerdeError);
}

}  // namespace
}  // namespace brook
