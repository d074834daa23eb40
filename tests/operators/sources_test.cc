#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "brook/operators/collection_source.h"
#include "brook/operators/file_source.h"
#include "brook/operators/generator_source.h"
#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using testing::OperatorHarness;

template <typename Out>
void RunToEnd(OperatorHarness<Out>& h, int max_steps = 100000) {
  auto& source = dynamic_cast<SourceOperatorBase&>(*h.op);
  for (int i = 0; i < max_steps; ++i)
    if (source.EmitNext().kind == SourceStatus::Kind::kEndOfInput) return;
  FAIL() << "source did not end";
}

auto Identity = [](uint64_t i) { return i; };
using IdentitySource = GeneratorSource<uint64_t, decltype(Identity)>;

TEST(GeneratorSource, SubtasksTogetherProduceEveryIndexExactlyOnce) {
  for (int p : {1, 3, 4}) {
    std::multiset<uint64_t> all;
    for (int s = 0; s < p; ++s) {
      GeneratorOptions options;
      options.count = 10'000;
      options.num_splits = 8;
      OperatorHarness<uint64_t> h(std::make_unique<IdentitySource>(Identity, options), s, p);
      h.Open();
      RunToEnd(h);
      all.insert(h.output.values.begin(), h.output.values.end());
    }
    ASSERT_EQ(all.size(), 10'000u) << "parallelism " << p;
    EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), 10'000u);
    EXPECT_EQ(*all.rbegin(), 9'999u);
  }
}

TEST(GeneratorSource, ReplaysExactlyFromRecordedSplitOffsets) {
  GeneratorOptions options;
  options.count = 1000;
  options.num_splits = 2;
  options.batch_size = 10;
  OperatorHarness<uint64_t> first(std::make_unique<IdentitySource>(Identity, options));
  first.Open();
  RunToEnd(first);

  OperatorHarness<uint64_t> replay(std::make_unique<IdentitySource>(Identity, options));
  replay.Open();
  // Split 0 yields even indices, split 1 odd ones; resume both 100 records in.
  dynamic_cast<IdentitySource&>(*replay.op).SeekTo({{0, 100}, {1, 100}});
  RunToEnd(replay);
  std::set<uint64_t> expected;
  for (uint64_t v : first.output.values)
    if (v >= 200) expected.insert(v);
  EXPECT_EQ(std::set<uint64_t>(replay.output.values.begin(), replay.output.values.end()),
            expected);
  EXPECT_EQ(replay.output.values.size(), 800u);
}

TEST(GeneratorSource, RateLimitAsksToWaitInsteadOfEmitting) {
  GeneratorOptions options;
  options.records_per_second = 100;
  OperatorHarness<uint64_t> h(std::make_unique<IdentitySource>(Identity, options));
  h.Open();
  auto& source = dynamic_cast<SourceOperatorBase&>(*h.op);
  int waits = 0;
  for (int i = 0; i < 10; ++i)
    if (source.EmitNext().kind == SourceStatus::Kind::kNothingUntil) ++waits;
  EXPECT_GT(waits, 0);
  EXPECT_LE(h.output.values.size(), 5u);
}

TEST(GeneratorSource, StampsRecordsWithTheTimestampFunction) {
  GeneratorOptions options;
  options.count = 3;
  OperatorHarness<uint64_t> h(std::make_unique<IdentitySource>(
      Identity, options, [](const uint64_t& v) { return Timestamp(v * 1000); }));
  h.Open();
  RunToEnd(h);
  ASSERT_EQ(h.output.records.size(), 3u);
  for (const auto& r : h.output.records) EXPECT_EQ(r.timestamp, Timestamp(r.value * 1000));
}

TEST(CollectionSource, SplitsElementsOverSubtasks) {
  auto elements = std::make_shared<const std::vector<int>>(std::vector<int>{1, 2, 3, 4, 5});
  OperatorHarness<int> second(std::make_unique<CollectionSource<int>>(elements), 1, 2);
  second.Open();
  RunToEnd(second);
  EXPECT_EQ(second.output.values, (std::vector<int>{2, 4}));
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brook_file_source_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "a.txt") << "one\ntwo\r\nthree";
    std::ofstream(dir_ / "b.txt") << "four\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FileSourceTest, ReadsEveryLineOfEveryFileInADirectory) {
  OperatorHarness<std::string> h(std::make_unique<FileSource>(dir_.string()));
  h.Open();
  RunToEnd(h);
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"one", "two", "three", "four"}));
}

TEST_F(FileSourceTest, SplitsFilesOverSubtasks) {
  OperatorHarness<std::string> h(std::make_unique<FileSource>(dir_.string()), 1, 2);
  h.Open();
  RunToEnd(h);
  EXPECT_EQ(h.output.values, (std::vector<std::string>{"four"}));
}

TEST_F(FileSourceTest, AMissingPathFailsClearly) {
  OperatorHarness<std::string> h(std::make_unique<FileSource>((dir_ / "nope").string()));
  try {
    h.Open();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
}

}  // namespace
}  // namespace brook
