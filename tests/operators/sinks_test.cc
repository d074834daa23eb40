#include "brook/operators/sinks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "brook_test/operator_harness.h"

namespace brook {
namespace {

using testing::OperatorHarness;

TEST(FileSink, WritesOnePartFilePerSubtask) {
  auto dir = std::filesystem::temp_directory_path() / ("brook_sink_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  OperatorHarness<int> h(
      std::make_unique<SinkOperator<int, FileSink<int>>>(FileSink<int>(dir.string())), 2, 3);
  h.Open();
  h.Process<int>({{7, 0}, {8, 0}});
  h.op->Finish();
  h.op->Close();
  std::ifstream in(dir / "part-2");
  std::string a, b;
  in >> a >> b;
  EXPECT_EQ(a, "7");
  EXPECT_EQ(b, "8");
  std::filesystem::remove_all(dir);
}

TEST(CollectSink, GathersRecordsFromEverySubtaskCopy) {
  auto results = std::make_shared<CollectedRecords<int>>();
  CollectSink<int> sink(results);
  OperatorHarness<int> a(std::make_unique<SinkOperator<int, CollectSink<int>>>(sink), 0, 2);
  OperatorHarness<int> b(std::make_unique<SinkOperator<int, CollectSink<int>>>(sink), 1, 2);
  a.Open();
  b.Open();
  a.Process<int>({{1, 0}});
  b.Process<int>({{2, 0}, {3, 0}});
  EXPECT_EQ(results->size(), 3u);
}

TEST(SinkOperator, AcceptsAPlainLambda) {
  int sum = 0;
  auto add = [&sum](const int& v) { sum += v; };
  OperatorHarness<int> h(std::make_unique<SinkOperator<int, decltype(add)>>(add));
  h.Open();
  h.Process<int>({{1, 0}, {2, 0}});
  EXPECT_EQ(sum, 3);
}

struct Point {
  int x, y;
};

TEST(ToText, PrintsStreamablePairsAndNamesTheRest) {
  EXPECT_EQ(ToText(42), "42");
  EXPECT_EQ(ToText(std::string("hi")), "hi");
  EXPECT_EQ(ToText(std::make_pair(std::string("a"), 1)), "(a, 1)");
  EXPECT_NE(ToText(Point{1, 2}).find("Point"), std::string::npos);
}

}  // namespace
}  // namespace brook
