#include "brook/jobs/job_graph.h"

#include <gtest/gtest.h>

#include <brook/brook.h>

namespace brook {
namespace {

auto Numbers(StreamEnvironment& env) {
  GeneratorOptions options;
  options.count = 10;
  return env.fromGenerator("numbers", [](uint64_t i) { return int64_t(i); }, options);
}

TEST(JobGraph, ChainsForwardEdgesBetweenEqualParallelism) {
  StreamEnvironment env;
  env.setParallelism(4);
  Numbers(env).map([](const int64_t& v) { return v + 1; }).filter([](const int64_t& v) {
    return v > 2;
  }).print();
  JobGraph job = env.BuildJobGraph("chain");
  ASSERT_EQ(job.vertices().size(), 1u);
  EXPECT_EQ(job.vertices()[0].name, "Source: numbers -> Map -> Filter -> Sink: Print");
  EXPECT_EQ(job.vertices()[0].parallelism, 4);
  for (const auto& e : job.edges()) EXPECT_TRUE(e.chained);
}

TEST(JobGraph, DifferentParallelismBreaksTheChainWithRebalance) {
  StreamEnvironment env;
  env.setParallelism(2);
  Numbers(env).map([](const int64_t& v) { return v; }).setParallelism(3).print().setParallelism(3);
  JobGraph job = env.BuildJobGraph("rebalance");
  ASSERT_EQ(job.vertices().size(), 2u);
  EXPECT_EQ(job.vertices()[1].name, "Map -> Sink: Print");
  auto inputs = job.InputsOf(VertexId(1));
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0]->partitioner->kind(), PartitionerFactory::Kind::kRebalance);
}

TEST(JobGraph, KeyByShufflesByHashAndNeverChains) {
  StreamEnvironment env;
  env.setParallelism(2);
  Numbers(env)
      .keyBy([](const int64_t& v) { return v % 3; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
      .print();
  JobGraph job = env.BuildJobGraph("keyed");
  ASSERT_EQ(job.vertices().size(), 2u);
  EXPECT_EQ(job.vertices()[1].name, "Reduce -> Sink: Print");
  EXPECT_EQ(job.InputsOf(VertexId(1))[0]->partitioner->kind(), PartitionerFactory::Kind::kHash);
}

TEST(JobGraph, UnionInputsAndChainingHintsStartNewVertices) {
  StreamEnvironment env;
  auto a = Numbers(env);
  auto b = Numbers(env).map([](const int64_t& v) { return -v; }).disableChaining();
  a.unionWith(b).filter([](const int64_t&) { return true; }).print();
  JobGraph job = env.BuildJobGraph("union");
  // numbers | numbers | map (chaining disabled) | filter -> print (two inputs: not chained)
  ASSERT_EQ(job.vertices().size(), 4u);
  EXPECT_EQ(job.InputsOf(VertexId(3)).size(), 2u);
  EXPECT_EQ(job.vertices()[3].name, "Filter -> Sink: Print");
}

TEST(JobGraph, StartNewChainBeginsAVertexAndLetsSuccessorsChain) {
  StreamEnvironment env;
  Numbers(env)
      .map([](const int64_t& v) { return v; })
      .map([](const int64_t& v) { return v; })
      .name("second")
      .startNewChain()
      .print();
  JobGraph job = env.BuildJobGraph("hints");
  ASSERT_EQ(job.vertices().size(), 2u);
  EXPECT_EQ(job.vertices()[1].name, "second -> Sink: Print");
}

TEST(JobGraph, BroadcastAndSideOutputEdgesAreNamed) {
  StreamEnvironment env;
  OutputTag<std::string> rejects("rejects");
  auto parsed = Numbers(env).process(
      [rejects](const int64_t& v, ProcessContext& ctx, Collector<int64_t>& out) {
        if (v % 2) ctx.output(rejects, std::to_string(v));
        else out.collect(v);
      });
  parsed.broadcast().print().setParallelism(2);
  parsed.getSideOutput(rejects).print().setParallelism(2);
  JobGraph job = env.BuildJobGraph("sides");
  bool saw_broadcast = false, saw_side = false;
  for (const auto& e : job.edges()) {
    if (e.partitioner->kind() == PartitionerFactory::Kind::kBroadcast) saw_broadcast = true;
    if (e.side_output_tag == "rejects") saw_side = true;
  }
  EXPECT_TRUE(saw_broadcast);
  EXPECT_TRUE(saw_side);
  EXPECT_NE(job.Describe().find("[side output rejects]"), std::string::npos);
}

TEST(JobGraph, RejectsAForwardEdgeBetweenDifferentParallelisms) {
  StreamEnvironment env;
  Numbers(env).forward().map([](const int64_t& v) { return v; }).setParallelism(2).print();
  EXPECT_THROW(env.BuildJobGraph("bad"), JobGraphError);
}

TEST(JobGraph, RejectsParallelismAboveAnExplicitMaxParallelism) {
  StreamEnvironment env;
  env.setMaxParallelism(4);
  Numbers(env).setParallelism(8).print();
  EXPECT_THROW(env.BuildJobGraph("bad"), JobGraphError);
}

TEST(JobGraph, DefaultMaxParallelismIsAtLeast128AndCoversTheParallelism) {
  StreamEnvironment env;
  Numbers(env).setParallelism(200).print().setParallelism(3);
  JobGraph job = env.BuildJobGraph("auto");
  EXPECT_EQ(job.vertices()[0].max_parallelism, 200);
  EXPECT_EQ(job.vertices()[1].max_parallelism, 128);
}

TEST(JobGraph, SettingsOnAUnionAreRefusedClearly) {
  StreamEnvironment env;
  auto u = Numbers(env).unionWith(Numbers(env));
  EXPECT_THROW(u.name("x"), std::logic_error);
}

TEST(JobArgs, ReadsFlagsInBothForms) {
  JobArgs args({"--users", "10", "--rate=5", "--verbose"});
  EXPECT_EQ(args.GetInt("users", 0), 10);
  EXPECT_EQ(args.GetInt("rate", 0), 5);
  EXPECT_EQ(args.GetInt("missing", 3), 3);
  EXPECT_TRUE(args.Has("verbose"));
  EXPECT_THROW(JobArgs({"--users", "ten"}).GetInt("users", 0), std::invalid_argument);
}

}  // namespace
}  // namespace brook
