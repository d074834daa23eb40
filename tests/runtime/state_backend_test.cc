// One typed suite, run against both keyed state backends with the same assertions (LMDB twice:
// with its default write-back cache, and with a cache of 3 entries so that nearly every access
// evicts, writes back and reloads), plus the LMDB-only properties (reopening, MVCC snapshots,
// state larger than a few pages, the cache's coherence with snapshots and restores).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "brook/runtime/state/state_backends.h"

namespace brook {
namespace {

constexpr int kMaxParallelism = 128;
const KeyGroupRange kAllKeyGroups{0, kMaxParallelism - 1};

struct Sum {
  int64_t operator()(const int64_t& a, const int64_t& b) const { return a + b; }
};

struct Average {
  using Acc = std::pair<int64_t, int64_t>;  // sum, count
  using Out = double;
  Acc CreateAccumulator() const { return {0, 0}; }
  void Add(const int64_t& v, Acc& acc) const {
    acc.first += v;
    acc.second += 1;
  }
  Out GetResult(const Acc& acc) const { return acc.second ? double(acc.first) / acc.second : 0; }
  void Merge(const Acc& from, Acc& into) const {
    into.first += from.first;
    into.second += from.second;
  }
};

using Entries = std::vector<std::tuple<int32_t, std::string, std::string, std::string>>;

// Every entry of a backend, sorted so that two backends' snapshots compare equal.
template <typename K>
Entries SnapshotOf(KeyedStateBackend<K>& backend) {
  Entries out;
  backend.Snapshot(
      [&](const StateEntry& e) { out.emplace_back(e.key_group, e.state_name, e.key, e.value); });
  std::sort(out.begin(), out.end());
  return out;
}

template <typename Map, typename Entries>
Map Sorted(const Entries& entries) {
  return Map(entries.begin(), entries.end());
}

// A directory of its own per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "brook-state-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr size_t kDefaultCache = StateBackendConfig{}.lmdb_cache_entries;

struct Heap {
  static constexpr StateBackendKind kKind = StateBackendKind::kMemory;
  static constexpr StateBackendKind kOther = StateBackendKind::kLmdb;
  static constexpr size_t kCacheEntries = kDefaultCache;
};
struct Lmdb {
  static constexpr StateBackendKind kKind = StateBackendKind::kLmdb;
  static constexpr StateBackendKind kOther = StateBackendKind::kMemory;
  static constexpr size_t kCacheEntries = kDefaultCache;
};
struct LmdbTinyCache {
  static constexpr StateBackendKind kKind = StateBackendKind::kLmdb;
  static constexpr StateBackendKind kOther = StateBackendKind::kMemory;
  static constexpr size_t kCacheEntries = 3;
};

struct BackendName {
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, Heap>) return "Heap";
    return std::is_same_v<T, Lmdb> ? "Lmdb" : "LmdbTinyCache";
  }
};

template <typename Param>
class StateBackend : public ::testing::Test {
 protected:
  template <typename K = std::string>
  std::unique_ptr<KeyedStateBackend<K>> Make(StateBackendKind kind = Param::kKind,
                                             KeyGroupRange range = kAllKeyGroups) {
    StateBackendConfig config;
    config.kind = kind;
    config.lmdb_directory = dir_.path();
    config.lmdb_map_size = size_t{1} << 30;
    config.lmdb_cache_entries = Param::kCacheEntries;
    return MakeKeyedStateBackend<K>(config, "env-" + std::to_string(next_env_++), kMaxParallelism,
                                    range);
  }

  TempDir dir_;
  int next_env_ = 0;
};

using BothBackends = ::testing::Types<Heap, Lmdb, LmdbTinyCache>;
TYPED_TEST_SUITE(StateBackend, BothBackends, BackendName);

TYPED_TEST(StateBackend, ValueStateReadsWhatWasWrittenAndNothingBefore) {
  auto backend = this->Make();
  auto& state = backend->GetState(ValueStateDescriptor<std::string>{"name"});
  backend->SetCurrentKey("alice");
  EXPECT_EQ(state.value(), std::nullopt);
  EXPECT_EQ(state.valueOr("none"), "none");
  state.update("Alice");
  EXPECT_EQ(state.value(), "Alice");
  state.update("Alice B.");
  EXPECT_EQ(state.value(), "Alice B.");
  EXPECT_EQ(&backend->GetState(ValueStateDescriptor<std::string>{"name"}), &state);
}

TYPED_TEST(StateBackend, KeysAndNamespacesAreIsolated) {
  auto backend = this->Make();
  auto& state = backend->GetState(ValueStateDescriptor<int64_t>{"count"});
  auto& other = backend->GetState(ValueStateDescriptor<int64_t>{"other"});
  for (int k = 0; k < 50; ++k) {
    backend->SetCurrentKey("user-" + std::to_string(k));
    for (int64_t ns : {int64_t{0}, int64_t{-5}, int64_t{1000}}) {
      state.SetNamespace(ns);
      state.update(k * 10 + ns);
    }
  }
  for (int k = 0; k < 50; ++k) {
    backend->SetCurrentKey("user-" + std::to_string(k));
    for (int64_t ns : {int64_t{0}, int64_t{-5}, int64_t{1000}}) {
      state.SetNamespace(ns);
      EXPECT_EQ(state.value(), k * 10 + ns);
    }
    state.SetNamespace(7);
    EXPECT_EQ(state.value(), std::nullopt);
    EXPECT_EQ(other.value(), std::nullopt);
  }
  backend->SetCurrentKey("user-");  // a prefix of every other key
  state.SetNamespace(0);
  EXPECT_EQ(state.value(), std::nullopt);
}

TYPED_TEST(StateBackend, ClearRemovesOnlyTheCurrentKeyAndNamespace) {
  auto backend = this->Make();
  auto& value = backend->GetState(ValueStateDescriptor<int64_t>{"v"});
  auto& map = backend->GetMapState(MapStateDescriptor<std::string, int64_t>{"m"});
  for (const char* key : {"a", "b"}) {
    backend->SetCurrentKey(key);
    for (int64_t ns : {1, 2}) {
      value.SetNamespace(ns);
      value.update(ns);
      map.SetNamespace(ns);
      map.put("x", ns);
      map.put("y", ns);
    }
  }
  backend->SetCurrentKey("a");
  value.SetNamespace(1);
  value.clear();
  map.SetNamespace(1);
  map.clear();
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_TRUE(map.isEmpty());
  value.SetNamespace(2);
  map.SetNamespace(2);
  EXPECT_EQ(value.value(), 2);
  EXPECT_EQ(map.entries().size(), 2u);
  backend->SetCurrentKey("b");
  value.SetNamespace(1);
  map.SetNamespace(1);
  EXPECT_EQ(value.value(), 1);
  EXPECT_EQ(map.get("y"), 1);
}

TYPED_TEST(StateBackend, ListStateAppendsReplacesAndClears) {
  auto backend = this->Make();
  auto& list = backend->GetListState(ListStateDescriptor<std::string>{"events"});
  backend->SetCurrentKey("k");
  EXPECT_TRUE(list.get().empty());
  list.add("a");
  list.addAll({"b", "c"});
  list.addAll({});
  EXPECT_EQ(list.get(), (std::vector<std::string>{"a", "b", "c"}));
  list.update({"z"});
  EXPECT_EQ(list.get(), (std::vector<std::string>{"z"}));
  list.update({});
  EXPECT_TRUE(list.get().empty());
  list.add("again");
  list.clear();
  EXPECT_TRUE(list.get().empty());
}

TYPED_TEST(StateBackend, MapStatePutsGetsRemovesAndListsEntries) {
  auto backend = this->Make();
  auto& map = backend->GetMapState(MapStateDescriptor<std::string, int64_t>{"features"});
  backend->SetCurrentKey("u1");
  EXPECT_TRUE(map.isEmpty());
  EXPECT_EQ(map.get("clicks"), std::nullopt);
  map.put("clicks", 3);
  map.put("views", 10);
  map.put("clicks", 4);
  EXPECT_EQ(map.get("clicks"), 4);
  EXPECT_TRUE(map.contains("views"));
  EXPECT_FALSE(map.contains("buys"));
  EXPECT_FALSE(map.isEmpty());
  using M = std::map<std::string, int64_t>;
  EXPECT_EQ(Sorted<M>(map.entries()), (M{{"clicks", 4}, {"views", 10}}));
  map.remove("clicks");
  map.remove("never-there");
  EXPECT_EQ(Sorted<M>(map.entries()), (M{{"views", 10}}));
  backend->SetCurrentKey("u2");
  EXPECT_TRUE(map.isEmpty());
  EXPECT_TRUE(map.entries().empty());
}

TYPED_TEST(StateBackend, ReducingStateFoldsWithTheReduceFunction) {
  auto backend = this->Make();
  auto& sum = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  backend->SetCurrentKey("k");
  EXPECT_EQ(sum.get(), std::nullopt);
  for (int64_t v = 1; v <= 10; ++v) sum.add(v);
  EXPECT_EQ(sum.get(), 55);
  sum.clear();
  EXPECT_EQ(sum.get(), std::nullopt);
}

TYPED_TEST(StateBackend, AggregatingStateAccumulatesAndReturnsTheResult) {
  auto backend = this->Make();
  auto& avg =
      backend->GetAggregatingState(AggregatingStateDescriptor<int64_t, Average>{"avg", Average{}});
  backend->SetCurrentKey("k");
  EXPECT_EQ(avg.get(), std::nullopt);
  EXPECT_EQ(avg.accumulator(), std::nullopt);
  for (int64_t v : {2, 4, 9}) avg.add(v);
  EXPECT_DOUBLE_EQ(*avg.get(), 5.0);
  EXPECT_EQ(avg.accumulator(), (Average::Acc{15, 3}));
}

TYPED_TEST(StateBackend, MergeNamespacesCombinesListsReducersAndAggregates) {
  auto backend = this->Make();
  auto& list = backend->GetListState(ListStateDescriptor<int64_t>{"list"});
  auto& sum = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  auto& avg =
      backend->GetAggregatingState(AggregatingStateDescriptor<int64_t, Average>{"avg", Average{}});
  backend->SetCurrentKey("session-user");
  for (int64_t ns : {10, 20, 30}) {
    list.SetNamespace(ns);
    sum.SetNamespace(ns);
    avg.SetNamespace(ns);
    list.add(ns);
    list.add(ns + 1);
    sum.add(ns);
    avg.add(ns);
  }
  list.MergeNamespaces(10, {20, 30, 40});
  sum.MergeNamespaces(10, {20, 30, 40});
  avg.MergeNamespaces(10, {20, 30, 40});
  list.SetNamespace(10);
  sum.SetNamespace(10);
  avg.SetNamespace(10);
  std::vector<int64_t> merged = list.get();
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, (std::vector<int64_t>{10, 11, 20, 21, 30, 31}));
  EXPECT_EQ(sum.get(), 60);
  EXPECT_EQ(avg.accumulator(), (Average::Acc{60, 3}));
  for (int64_t ns : {20, 30}) {
    list.SetNamespace(ns);
    sum.SetNamespace(ns);
    avg.SetNamespace(ns);
    EXPECT_TRUE(list.get().empty());
    EXPECT_EQ(sum.get(), std::nullopt);
    EXPECT_EQ(avg.get(), std::nullopt);
  }
  // Merging into a namespace that holds nothing yet.
  sum.SetNamespace(1);
  sum.add(1);
  sum.SetNamespace(2);
  sum.add(2);
  sum.MergeNamespaces(99, {1, 2});
  sum.SetNamespace(99);
  EXPECT_EQ(sum.get(), 3);
}

TYPED_TEST(StateBackend, EventTimeTtlExpiresEntriesOnceTheWatermarkPassesTheirTtl) {
  auto backend = this->Make();
  const auto ttl = StateTtlConfig::EventTime(100);
  auto& value = backend->GetState(ValueStateDescriptor<int64_t>{"v", ttl});
  auto& list = backend->GetListState(ListStateDescriptor<int64_t>{"l", ttl});
  auto& map = backend->GetMapState(MapStateDescriptor<int64_t, int64_t>{"m", ttl});
  auto& sum = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"s", Sum{}, ttl});
  backend->SetCurrentWatermark(1000);
  backend->SetCurrentKey("k");
  value.update(1);
  list.add(1);
  map.put(1, 1);
  sum.add(1);
  backend->SetCurrentWatermark(1050);
  map.put(2, 2);  // written later: expires later
  backend->SetCurrentWatermark(1099);
  EXPECT_EQ(value.value(), 1);
  EXPECT_EQ(list.get().size(), 1u);
  EXPECT_EQ(sum.get(), 1);
  EXPECT_EQ(map.entries().size(), 2u);
  backend->SetCurrentWatermark(1100);
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_TRUE(list.get().empty());
  EXPECT_EQ(sum.get(), std::nullopt);
  EXPECT_EQ(map.get(1), std::nullopt);
  EXPECT_EQ(map.get(2), 2);
  sum.add(5);  // an expired value does not feed the reduction
  EXPECT_EQ(sum.get(), 5);
  backend->SetCurrentWatermark(1150);
  EXPECT_TRUE(map.isEmpty());
}

TYPED_TEST(StateBackend, ProcessingTimeTtlExpiresAfterTheTtlElapses) {
  auto backend = this->Make();
  auto& value =
      backend->GetState(ValueStateDescriptor<int64_t>{"v", StateTtlConfig::ProcessingTime(30)});
  backend->SetCurrentKey("k");
  value.update(7);
  EXPECT_EQ(value.value(), 7);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(value.value(), std::nullopt);
}

TYPED_TEST(StateBackend, OnReadAndWriteTtlIsRefreshedByReads) {
  auto backend = this->Make();
  StateTtlConfig refreshing = StateTtlConfig::EventTime(100);
  refreshing.update_type = StateTtlConfig::UpdateType::kOnReadAndWrite;
  auto& read_refreshed = backend->GetState(ValueStateDescriptor<int64_t>{"r", refreshing});
  auto& write_only =
      backend->GetState(ValueStateDescriptor<int64_t>{"w", StateTtlConfig::EventTime(100)});
  auto& map = backend->GetMapState(MapStateDescriptor<int64_t, int64_t>{"m", refreshing});
  backend->SetCurrentKey("k");
  backend->SetCurrentWatermark(0);
  read_refreshed.update(1);
  write_only.update(1);
  map.put(1, 1);
  for (Timestamp wm = 90; wm <= 450; wm += 90) {
    backend->SetCurrentWatermark(wm);
    EXPECT_EQ(read_refreshed.value(), 1) << wm;
    EXPECT_EQ(map.get(1), 1) << wm;
  }
  EXPECT_EQ(write_only.value(), std::nullopt);
  backend->SetCurrentWatermark(1000);
  EXPECT_EQ(read_refreshed.value(), std::nullopt);
  EXPECT_FALSE(map.contains(1));
}

TYPED_TEST(StateBackend, IncrementalCleanupKeepsADedupStateWithTtlBounded) {
  auto backend = this->Make();
  auto& seen =
      backend->GetState(ValueStateDescriptor<bool>{"seen", StateTtlConfig::EventTime(100)});
  for (int i = 0; i < 20'000; ++i) {
    backend->SetCurrentWatermark(i);
    backend->SetCurrentKey("event-" + std::to_string(i));
    if (!seen.value()) seen.update(true);
  }
  // About 100 entries are live; cleanup lags a little behind expiry.
  EXPECT_LT(SnapshotOf(*backend).size(), 1000u);
}

// Counts its CreateAccumulator calls, to check add()'s creation contract (keyed_state.h).
struct CountingSum {
  using Acc = int64_t;
  using Out = int64_t;
  int* created;
  Acc CreateAccumulator() const {
    ++*created;
    return 0;
  }
  void Add(const int64_t& v, Acc& acc) const { acc += v; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};

TYPED_TEST(StateBackend, AddCreatesTheAccumulatorExactlyWhenTheEntryIsAbsentAndSaysSo) {
  auto backend = this->Make();
  int created = 0;
  auto& agg = backend->GetAggregatingState(
      AggregatingStateDescriptor<int64_t, CountingSum>{"agg", CountingSum{&created}});
  auto& sum = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  // Many keys and two namespaces, three rounds: the tiny cache evicts between rounds.
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 40; ++k) {
      backend->SetCurrentKey("key-" + std::to_string(k));
      for (int64_t ns : {5, 6}) {
        agg.SetNamespace(ns);
        sum.SetNamespace(ns);
        EXPECT_EQ(agg.add(k), round == 0) << round << " " << k << " " << ns;
        EXPECT_EQ(sum.add(k), round == 0) << round << " " << k << " " << ns;
      }
    }
  }
  EXPECT_EQ(created, 80);
  backend->SetCurrentKey("key-7");
  agg.SetNamespace(5);
  sum.SetNamespace(5);
  EXPECT_EQ(agg.get(), 21);
  EXPECT_EQ(sum.get(), 21);
  agg.clear();
  sum.clear();
  EXPECT_TRUE(agg.add(1));  // cleared: absent again
  EXPECT_TRUE(sum.add(1));
  EXPECT_EQ(created, 81);
  // Merging into an absent target moves the merged accumulator there without creating one.
  agg.MergeNamespaces(9, {5, 6});
  agg.SetNamespace(9);
  EXPECT_EQ(agg.get(), 1 + 21);
  EXPECT_FALSE(agg.add(100));
  agg.SetNamespace(6);
  EXPECT_TRUE(agg.add(2));
  EXPECT_EQ(created, 82);
}

TYPED_TEST(StateBackend, AnExpiredEntryCountsAsAbsentForAdd) {
  auto backend = this->Make();
  int created = 0;
  const auto ttl = StateTtlConfig::EventTime(100);
  auto& agg = backend->GetAggregatingState(
      AggregatingStateDescriptor<int64_t, CountingSum>{"agg", CountingSum{&created}, ttl});
  backend->SetCurrentWatermark(1000);
  backend->SetCurrentKey("k");
  EXPECT_TRUE(agg.add(1));
  EXPECT_FALSE(agg.add(1));
  backend->SetCurrentWatermark(1099);
  EXPECT_FALSE(agg.add(1));  // written at 1099: lives until 1199
  backend->SetCurrentWatermark(1199);
  EXPECT_TRUE(agg.add(5));
  EXPECT_EQ(agg.get(), 5);
  EXPECT_EQ(created, 2);
}

TYPED_TEST(StateBackend, AStateNameReusedWithADifferentTypeThrows) {
  auto backend = this->Make();
  backend->GetState(ValueStateDescriptor<int64_t>{"x"});
  EXPECT_THROW(backend->GetState(ValueStateDescriptor<std::string>{"x"}), StateTypeError);
  EXPECT_THROW(backend->GetListState(ListStateDescriptor<int64_t>{"x"}), StateTypeError);
  EXPECT_THROW((backend->GetMapState(MapStateDescriptor<int64_t, int64_t>{"x"})), StateTypeError);
}

TYPED_TEST(StateBackend, IntegerKeysWorkLikeStringKeys) {
  auto backend = this->template Make<int64_t>();
  auto& value = backend->GetState(ValueStateDescriptor<int64_t>{"v"});
  for (int64_t k = -100; k < 100; ++k) {
    backend->SetCurrentKey(k);
    value.update(k * k);
  }
  for (int64_t k = -100; k < 100; ++k) {
    backend->SetCurrentKey(k);
    EXPECT_EQ(value.value(), k * k);
  }
}

// Writes a bit of every kind of state for keys "key-0".."key-<n-1>".
void Populate(KeyedStateBackend<std::string>& b, int n) {
  auto& value = b.GetState(ValueStateDescriptor<std::string>{"value"});
  auto& list = b.GetListState(ListStateDescriptor<int64_t>{"list"});
  auto& map = b.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"});
  auto& sum = b.GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  auto& avg = b.GetAggregatingState(AggregatingStateDescriptor<int64_t, Average>{"avg", Average{}});
  auto& ttl =
      b.GetState(ValueStateDescriptor<int64_t>{"ttl", StateTtlConfig::EventTime(int64_t{1} << 40)});
  for (int i = 0; i < n; ++i) {
    b.SetCurrentKey("key-" + std::to_string(i));
    for (int64_t ns : {0, -3, 77}) {
      value.SetNamespace(ns);
      list.SetNamespace(ns);
      value.update("v" + std::to_string(i) + "/" + std::to_string(ns));
      list.addAll({i, ns});
    }
    map.put("a", i);
    map.put("b" + std::to_string(i), -i);
    sum.add(i);
    sum.add(1);
    avg.add(i);
    ttl.update(i);
  }
}

void ExpectPopulated(KeyedStateBackend<std::string>& b, const std::string& key) {
  const int i = std::stoi(key.substr(4));
  auto& value = b.GetState(ValueStateDescriptor<std::string>{"value"});
  auto& list = b.GetListState(ListStateDescriptor<int64_t>{"list"});
  auto& map = b.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"});
  auto& sum = b.GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  auto& avg = b.GetAggregatingState(AggregatingStateDescriptor<int64_t, Average>{"avg", Average{}});
  auto& ttl =
      b.GetState(ValueStateDescriptor<int64_t>{"ttl", StateTtlConfig::EventTime(int64_t{1} << 40)});
  b.SetCurrentKey(key);
  for (int64_t ns : {0, -3, 77}) {
    value.SetNamespace(ns);
    list.SetNamespace(ns);
    EXPECT_EQ(value.value(), "v" + std::to_string(i) + "/" + std::to_string(ns)) << key;
    EXPECT_EQ(list.get(), (std::vector<int64_t>{i, ns})) << key;
  }
  using M = std::map<std::string, int64_t>;
  EXPECT_EQ(Sorted<M>(map.entries()), (M{{"a", i}, {"b" + std::to_string(i), -i}})) << key;
  EXPECT_EQ(sum.get(), i + 1) << key;
  EXPECT_EQ(avg.accumulator(), (Average::Acc{i, 1})) << key;
  EXPECT_EQ(ttl.value(), i) << key;
}

TYPED_TEST(StateBackend, SnapshotRestoresIntoTheOtherBackendWithIdenticalReads) {
  auto source = this->Make();
  Populate(*source, 200);
  const Entries entries = SnapshotOf(*source);
  EXPECT_EQ(entries.size(), 200u * (3 + 3 + 2 + 1 + 1 + 1));

  auto target = this->Make(TypeParam::kOther);
  source->Snapshot([&](const StateEntry& e) { target->Restore(e); });
  for (int i = 0; i < 200; ++i) ExpectPopulated(*target, "key-" + std::to_string(i));
  EXPECT_EQ(SnapshotOf(*target), entries);

  // And back again.
  auto round_trip = this->Make();
  target->Snapshot([&](const StateEntry& e) { round_trip->Restore(e); });
  EXPECT_EQ(SnapshotOf(*round_trip), entries);
  for (int i = 0; i < 200; i += 7) ExpectPopulated(*round_trip, "key-" + std::to_string(i));
}

// Changes every kind of state of keys 0..n-1 written by Populate, and adds keys n..2n-1.
void MutateAfterPopulate(KeyedStateBackend<std::string>& b, int n) {
  auto& value = b.GetState(ValueStateDescriptor<std::string>{"value"});
  auto& list = b.GetListState(ListStateDescriptor<int64_t>{"list"});
  auto& map = b.GetMapState(MapStateDescriptor<std::string, int64_t>{"map"});
  auto& sum = b.GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  for (int i = 0; i < n; ++i) {
    b.SetCurrentKey("key-" + std::to_string(i));
    value.SetNamespace(77);
    list.SetNamespace(-3);
    if (i % 3 == 0) {
      value.clear();
      list.clear();
      map.remove("a");
    } else {
      value.update("changed");
      list.add(-1);
      map.put("a", -100);
    }
    sum.add(1000);
  }
  Populate(b, 2 * n);  // overwrites and appends to 0..n-1, creates n..2n-1
}

// The view is the state at the moment it was taken, read on another thread while the task
// thread changes everything; restoring it gives exactly that state; the writes made meanwhile
// are all in the backend afterwards (copy-on-write loses none); and the view outlives the
// backend.
TYPED_TEST(StateBackend, ViewSeesTheStateAtTheBarrierWhileWritesGoOn) {
  constexpr int kKeys = 300;
  auto backend = this->Make();
  Populate(*backend, kKeys);
  const Entries at_barrier = SnapshotOf(*backend);
  std::shared_ptr<KeyedStateView> view = backend->TakeView();

  Entries read;
  std::vector<int32_t> groups_in_order;
  std::thread reader([&] {
    view->ForEachEntry([&](const StateEntry& e) {
      read.emplace_back(e.key_group, e.state_name, e.key, e.value);
      groups_in_order.push_back(e.key_group);
    });
  });
  MutateAfterPopulate(*backend, kKeys);
  backend->Flush();
  reader.join();

  EXPECT_TRUE(std::is_sorted(groups_in_order.begin(), groups_in_order.end()));
  std::sort(read.begin(), read.end());
  EXPECT_EQ(read, at_barrier);
  EXPECT_EQ(view->bytes(), [&] {
    size_t bytes = 0;
    for (const auto& [g, name, key, value] : at_barrier) bytes += name.size() + key.size() + value.size() + 4;
    return bytes;
  }());

  // Restored from the view: the state at the barrier, in either backend.
  auto restored = this->Make(TypeParam::kOther);
  view->ForEachEntry([&](const StateEntry& e) { restored->Restore(e); });
  restored->Flush();
  EXPECT_EQ(SnapshotOf(*restored), at_barrier);
  for (int i = 0; i < kKeys; i += 13) ExpectPopulated(*restored, "key-" + std::to_string(i));

  // The backend has every write, as one that never had a view.
  auto twin = this->Make();
  Populate(*twin, kKeys);
  MutateAfterPopulate(*twin, kKeys);
  const Entries now = SnapshotOf(*backend);
  EXPECT_EQ(now, SnapshotOf(*twin));
  EXPECT_NE(now, at_barrier);

  // Taken again after the first view was read: writes go on in place, the new view sees them.
  auto second = backend->TakeView();
  backend.reset();
  Entries again;
  view->ForEachEntry([&](const StateEntry& e) { again.emplace_back(e.key_group, e.state_name, e.key, e.value); });
  std::sort(again.begin(), again.end());
  EXPECT_EQ(again, at_barrier);
  Entries second_read;
  second->ForEachEntry([&](const StateEntry& e) { second_read.emplace_back(e.key_group, e.state_name, e.key, e.value); });
  std::sort(second_read.begin(), second_read.end());
  EXPECT_EQ(second_read, now);
}

// A view costs the heap backend a copy of each key group's table the task writes to while the
// view holds it; once released (storage does so before its disk sync), writes go in place again
// and the released view holds nothing.
TEST(HeapStateBackend, AReleasedViewLetsWritesGoInPlace) {
  HeapKeyedStateBackend<std::string> backend(kMaxParallelism, kAllKeyGroups);
  auto& value = backend.GetState(ValueStateDescriptor<int64_t>{"v"});
  auto write_all = [&](int64_t v) {
    for (int i = 0; i < 200; ++i) {
      backend.SetCurrentKey("key-" + std::to_string(i));
      value.update(v);
    }
  };
  write_all(1);
  EXPECT_EQ(backend.partition_copies(), 0u);
  std::shared_ptr<KeyedStateView> view = backend.TakeView();
  write_all(2);
  const uint64_t copies = backend.partition_copies();
  EXPECT_GT(copies, uint64_t(kMaxParallelism) / 2);  // 200 random keys touch most key groups
  size_t read = 0;
  view->ForEachEntry([&](const StateEntry& e) {
    EXPECT_EQ(Deserialize<int64_t>(std::as_bytes(std::span(e.value))), 1);
    ++read;
  });
  EXPECT_EQ(read, 200u);
  const size_t bytes = view->bytes();
  view->Release();
  EXPECT_EQ(view->bytes(), bytes);
  write_all(3);
  EXPECT_EQ(backend.partition_copies(), copies);
  // An unread view held on copies again; the backend's state is the last write.
  auto second = backend.TakeView();
  write_all(4);
  EXPECT_GT(backend.partition_copies(), copies);
  Entries now = SnapshotOf(backend);
  for (const auto& [g, name, key, v] : now)
    EXPECT_EQ(Deserialize<int64_t>(std::as_bytes(std::span(v))), 4);
}

// Blocks of 2 MiB and more are mapped on their own, 2 MiB-aligned (for huge pages); smaller
// ones come from operator new. Both hold what is written to them.
TEST(LargeTableAllocator, MapsBigBlocksAlignedAndSmallOnesFromTheHeap) {
  LargeTableAllocator<uint64_t> allocator;
  for (size_t n : {size_t{16}, state_internal::kLargeTableBytes / 8,
                   state_internal::kLargeTableBytes / 8 * 3 + 5}) {
    uint64_t* block = allocator.allocate(n);
    if (n * 8 >= state_internal::kLargeTableBytes) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % state_internal::kLargeTableBytes, 0u) << n;
    }
    for (size_t i = 0; i < n; ++i) block[i] = i * 7;
    for (size_t i = 0; i < n; i += 4099) ASSERT_EQ(block[i], i * 7);
    EXPECT_EQ(block[n - 1], (n - 1) * 7);
    allocator.deallocate(block, n);
  }
}

// One key group holding many entries: its table is a big block, copied on write under a view;
// the view reads the state of its moment and the backend its own, through restore too.
TEST(HeapStateBackend, BigKeyGroupTablesCopyOnWriteAndRestore) {
  const KeyGroupRange one{0, 0};
  HeapKeyedStateBackend<int64_t> backend(1, one);
  auto& value = backend.GetState(ValueStateDescriptor<int64_t>{"v"});
  constexpr int64_t kKeys = 200'000;  // 200k x 32 bytes per slot: several MiB
  auto write_all = [&](int64_t times) {
    for (int64_t k = 0; k < kKeys; ++k) {
      backend.SetCurrentKey(k);
      value.update(k * times);
    }
  };
  write_all(1);
  std::shared_ptr<KeyedStateView> view = backend.TakeView();
  write_all(2);
  EXPECT_EQ(backend.partition_copies(), 1u);
  std::vector<StateEntry> entries;
  view->ForEachEntry([&](const StateEntry& e) { entries.push_back(e); });
  ASSERT_EQ(entries.size(), size_t(kKeys));
  HeapKeyedStateBackend<int64_t> restored(1, one);
  auto& restored_value = restored.GetState(ValueStateDescriptor<int64_t>{"v"});
  for (const StateEntry& e : entries) restored.Restore(e);
  for (int64_t k = 0; k < kKeys; ++k) {
    backend.SetCurrentKey(k);
    ASSERT_EQ(value.value(), k * 2);
    restored.SetCurrentKey(k);
    ASSERT_EQ(restored_value.value(), k);
  }
}

// Several views at once (checkpoints overlapping): each keeps its own moment.
TYPED_TEST(StateBackend, OverlappingViewsEachKeepTheirMoment) {
  auto backend = this->Make();
  auto& sum = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"sum", Sum{}});
  std::vector<std::shared_ptr<KeyedStateView>> views;
  std::vector<Entries> expected;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 500; ++i) {
      backend->SetCurrentKey("k" + std::to_string((i * 7 + round) % 600));
      sum.add(round + 1);
    }
    expected.push_back(SnapshotOf(*backend));
    views.push_back(backend->TakeView());
  }
  for (size_t v = 0; v < views.size(); ++v) {
    Entries read;
    views[v]->ForEachEntry([&](const StateEntry& e) { read.emplace_back(e.key_group, e.state_name, e.key, e.value); });
    std::sort(read.begin(), read.end());
    EXPECT_EQ(read, expected[v]) << "view " << v;
  }
}

TYPED_TEST(StateBackend, RescalingSplitsEntriesByKeyGroupRangeAndEveryKeyLandsInExactlyOne) {
  auto source = this->Make();
  Populate(*source, 300);
  const KeyGroupRange left = KeyGroupRange::ForSubtask(0, kMaxParallelism, 2);
  const KeyGroupRange right = KeyGroupRange::ForSubtask(1, kMaxParallelism, 2);
  // One new subtask of each kind: the split must not depend on the backend.
  auto to_left = this->Make(TypeParam::kKind, left);
  auto to_right = this->Make(TypeParam::kOther, right);
  source->Snapshot([&](const StateEntry& e) {
    to_left->Restore(e);  // each skips the key groups it does not own
    to_right->Restore(e);
  });
  const Entries left_entries = SnapshotOf(*to_left);
  const Entries right_entries = SnapshotOf(*to_right);
  EXPECT_EQ(left_entries.size() + right_entries.size(), SnapshotOf(*source).size());
  for (const auto& e : left_entries) EXPECT_TRUE(left.Contains(KeyGroup(std::get<0>(e))));
  for (const auto& e : right_entries) EXPECT_TRUE(right.Contains(KeyGroup(std::get<0>(e))));
  int in_left = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const KeyGroup group = KeyGroupFor(key, kMaxParallelism);
    ASSERT_NE(left.Contains(group), right.Contains(group));
    ExpectPopulated(left.Contains(group) ? *to_left : *to_right, key);
    in_left += left.Contains(group);
  }
  EXPECT_GT(in_left, 50);
  EXPECT_LT(in_left, 250);
}

TYPED_TEST(StateBackend, EntriesRestoredBeforeTheirStateIsDeclaredAreKeptAndReadable) {
  auto source = this->Make();
  Populate(*source, 20);
  auto target = this->Make();
  source->Snapshot([&](const StateEntry& e) { target->Restore(e); });
  // Nothing declared yet: a snapshot still carries everything.
  EXPECT_EQ(SnapshotOf(*target), SnapshotOf(*source));
  for (int i = 0; i < 20; ++i) ExpectPopulated(*target, "key-" + std::to_string(i));
}

// --- LMDB only ------------------------------------------------------------------------------

class LmdbStateBackend : public ::testing::Test {
 protected:
  std::unique_ptr<KeyedStateBackend<std::string>> Open(const std::string& env = "env",
                                                       size_t cache_entries = kDefaultCache) {
    StateBackendConfig config;
    config.kind = StateBackendKind::kLmdb;
    config.lmdb_directory = dir_.path();
    config.lmdb_map_size = size_t{1} << 30;
    config.lmdb_cache_entries = cache_entries;
    return MakeKeyedStateBackend<std::string>(config, env, kMaxParallelism, kAllKeyGroups);
  }
  TempDir dir_;
};

TEST_F(LmdbStateBackend, StateSurvivesClosingAndReopening) {
  {
    auto backend = Open();
    // Declared in an order the reopened backend does not repeat: ids come from the catalog.
    backend->GetState(ValueStateDescriptor<int64_t>{"unused"});
    Populate(*backend, 100);
  }
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/env/data.mdb"));
  auto reopened = Open();
  for (int i = 0; i < 100; ++i) ExpectPopulated(*reopened, "key-" + std::to_string(i));
}

TEST_F(LmdbStateBackend, StateLargerThanTheCacheSurvivesClosingAndReopening) {
  {
    auto backend = Open("env", 5);
    Populate(*backend, 300);
  }
  auto reopened = Open("env", 5);
  for (int i = 0; i < 300; ++i) ExpectPopulated(*reopened, "key-" + std::to_string(i));
}

// The write-back cache holds these updates; a snapshot must see them anyway, and clearing an
// entry that a snapshot wrote back must remove it from the next snapshot.
TEST_F(LmdbStateBackend, ASnapshotSeesEveryUpdateMadeBeforeIt) {
  auto backend = Open();
  auto& value = backend->GetState(ValueStateDescriptor<int64_t>{"v"});
  auto& count = backend->GetReducingState(ReducingStateDescriptor<int64_t, Sum>{"n", Sum{}});
  auto values_in = [&](const Entries& entries, const std::string& state) {
    std::map<std::string, int64_t> out;
    for (const auto& [group, name, key, bytes] : entries) {
      if (name == state) out[key] = Deserialize<int64_t>(state_internal::AsBytes(bytes));
    }
    return out;
  };
  for (int i = 0; i < 10; ++i) {
    backend->SetCurrentKey("k" + std::to_string(i));
    value.update(i);
    count.add(1);
  }
  Entries first = SnapshotOf(*backend);
  EXPECT_EQ(values_in(first, "v").size(), 10u);
  EXPECT_EQ(values_in(first, "n").size(), 10u);
  for (int i = 0; i < 10; ++i) {
    backend->SetCurrentKey("k" + std::to_string(i));
    if (i % 2 == 0) {
      value.clear();
    } else {
      value.update(100 + i);
    }
    count.add(1);
  }
  Entries second = SnapshotOf(*backend);
  std::map<std::string, int64_t> values = values_in(second, "v");
  ASSERT_EQ(values.size(), 5u);
  for (const auto& [key, v] : values) EXPECT_GT(v, 100);
  for (const auto& [key, n] : values_in(second, "n")) EXPECT_EQ(n, 2);
  EXPECT_EQ(values_in(second, "n").size(), 10u);
}

// A restored entry replaces what the cache holds for the same key and namespace.
TEST_F(LmdbStateBackend, RestoredEntriesAreNotShadowedByCachedOnes) {
  auto source = Open("source");
  auto& source_value = source->GetState(ValueStateDescriptor<int64_t>{"v"});
  source->SetCurrentKey("k");
  source_value.update(42);
  auto target = Open("target");
  auto& target_value = target->GetState(ValueStateDescriptor<int64_t>{"v"});
  target->SetCurrentKey("k");
  target_value.update(7);
  EXPECT_EQ(target_value.value(), 7);
  source->Snapshot([&](const StateEntry& e) { target->Restore(e); });
  target->SetCurrentKey("k");
  EXPECT_EQ(target_value.value(), 42);
}

TEST_F(LmdbStateBackend, ASnapshotIsAConsistentViewWhileWritesContinue) {
  LmdbKeyedStateBackend<std::string> backend({dir_.path() + "/env", size_t{1} << 30},
                                             kMaxParallelism, kAllKeyGroups);
  auto& value = backend.GetState(ValueStateDescriptor<int64_t>{"v"});
  constexpr int kKeys = 2000;
  for (int i = 0; i < kKeys; ++i) {
    backend.SetCurrentKey("k" + std::to_string(i));
    value.update(i);
  }
  std::unique_ptr<LmdbStateSnapshot> snapshot = backend.TakeSnapshot();
  // Written out on another thread while the task thread keeps overwriting and committing.
  int seen = 0;
  int64_t sum = 0;
  std::thread writer_out([&] {
    snapshot->ForEachEntry([&](const StateEntry& e) {
      EXPECT_EQ(e.state_name, "v");
      sum += Deserialize<int64_t>(state_internal::AsBytes(e.value));
      ++seen;
    });
  });
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      backend.SetCurrentKey("k" + std::to_string(i));
      value.update(-1);
    }
    backend.SetCurrentKey("late-" + std::to_string(round));
    value.update(0);
    backend.Flush();
  }
  writer_out.join();
  EXPECT_EQ(seen, kKeys);
  EXPECT_EQ(sum, int64_t{kKeys} * (kKeys - 1) / 2);  // none of the -1s written afterwards
  snapshot.reset();
  backend.SetCurrentKey("k3");
  EXPECT_EQ(value.value(), -1);
}

TEST_F(LmdbStateBackend, HoldsFiftyMegabytesOfStateAndReadsItBack) {
  auto backend = Open();
  auto& blob = backend->GetState(ValueStateDescriptor<std::string>{"blob"});
  constexpr int kKeys = 50'000;
  auto payload = [](int i) {
    std::string s(1000, 'a' + static_cast<char>(i % 26));
    std::memcpy(s.data(), &i, sizeof i);
    return s;
  };
  for (int i = 0; i < kKeys; ++i) {
    backend->SetCurrentKey("user-" + std::to_string(i));
    blob.update(payload(i));
  }
  backend->Flush();
  for (int i = 0; i < kKeys; ++i) {
    backend->SetCurrentKey("user-" + std::to_string(i));
    std::optional<std::string> v = blob.value();
    ASSERT_TRUE(v.has_value()) << i;
    ASSERT_EQ(*v, payload(i)) << i;
  }
  EXPECT_GT(std::filesystem::file_size(dir_.path() + "/env/data.mdb"), size_t{50'000'000});
}

TEST_F(LmdbStateBackend, MapFullIsReportedAsAnError) {
  StateBackendConfig config;
  config.kind = StateBackendKind::kLmdb;
  config.lmdb_directory = dir_.path();
  config.lmdb_map_size = size_t{1} << 20;
  auto backend =
      MakeKeyedStateBackend<std::string>(config, "small", kMaxParallelism, kAllKeyGroups);
  auto& blob = backend->GetState(ValueStateDescriptor<std::string>{"blob"});
  EXPECT_THROW(
      {
        for (int i = 0; i < 10'000; ++i) {
          backend->SetCurrentKey("k" + std::to_string(i));
          blob.update(std::string(1000, 'x'));
        }
        backend->Flush();
      },
      std::runtime_error);
}

}  // namespace
}  // namespace brook
