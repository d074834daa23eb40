// The personalization job on a fixed generated input produces exactly the expected dead
// letters, offers, profiles and windowed click counts. The expectations are derived here,
// independently, from the generator's ground truth (which events it corrupted, invalidated or
// duplicated) and the pipeline's documented rules, not from a run of the job.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "brook/cluster/mini_cluster.h"
#include "examples/personalization/pipeline.h"

namespace personalization {
namespace {

using brook::CollectedRecords;
using brook::CollectSink;

constexpr uint64_t kEvents = 30'000;

PipelineConfig Config() {
  PipelineConfig config;
  config.generator.events = kEvents;
  config.generator.users = 300;
  return config;
}

struct Results {
  std::shared_ptr<CollectedRecords<DeadLetter>> dead = std::make_shared<CollectedRecords<DeadLetter>>();
  std::shared_ptr<CollectedRecords<CartOffer>> offers = std::make_shared<CollectedRecords<CartOffer>>();
  std::shared_ptr<CollectedRecords<UserProfile>> profiles = std::make_shared<CollectedRecords<UserProfile>>();
  std::shared_ptr<CollectedRecords<ItemClicks>> clicks = std::make_shared<CollectedRecords<ItemClicks>>();
  std::shared_ptr<CollectedRecords<SessionSummary>> sessions = std::make_shared<CollectedRecords<SessionSummary>>();
  std::shared_ptr<CollectedRecords<Recommendation>> recommendations = std::make_shared<CollectedRecords<Recommendation>>();
};

Results RunJob(int parallelism, brook::StateBackendKind backend = brook::StateBackendKind::kMemory) {
  brook::StreamEnvironment env;
  env.setParallelism(parallelism);
  // Watermarks after every batch: event time advances while the (fast) test job runs, so
  // windows, trends and profiles fire along the way as in a long-running job, not all at once
  // at the end of input.
  env.setAutoWatermarkInterval(0);
  if (backend == brook::StateBackendKind::kLmdb)
    env.setStateBackend({brook::StateBackendKind::kLmdb, "/tmp/brook-test-state-" + std::to_string(::getpid())});
  PipelineOutputs out = BuildPipeline(env, Config());
  Results r;
  out.dead_letters.sinkTo(CollectSink<DeadLetter>(r.dead));
  out.offers.sinkTo(CollectSink<CartOffer>(r.offers));
  out.profiles.sinkTo(CollectSink<UserProfile>(r.profiles));
  out.item_clicks.sinkTo(CollectSink<ItemClicks>(r.clicks));
  out.sessions.sinkTo(CollectSink<SessionSummary>(r.sessions));
  out.recommendations.sinkTo(CollectSink<Recommendation>(r.recommendations));
  brook::MiniCluster cluster;
  auto result = cluster.Execute(env.BuildJobGraph("personalization"));
  EXPECT_TRUE(result.ok()) << result.error;
  return r;
}

// --- the independent expectation ------------------------------------------------------------

struct Expected {
  std::multiset<std::string> dead_reasons;
  std::vector<Event> events;  // valid, first occurrence of each id, in event-time order
  std::multiset<std::tuple<uint64_t, uint64_t, int64_t>> offers;  // user, item, cart time
  std::map<std::pair<uint64_t, int64_t>, uint64_t> clicks;        // (item, window end) -> clicks
  std::map<uint64_t, UserProfile> profiles;
  std::multiset<std::tuple<uint64_t, int64_t, int64_t, uint32_t>> sessions;  // user, start, end, events
};

double Weight(EventType t) {
  return t == EventType::kView ? 1 : t == EventType::kClick ? 2 : t == EventType::kAddToCart ? 5 : 10;
}

Expected Expect(const PipelineConfig& config) {
  Expected x;
  std::set<uint64_t> seen_ids;
  for (uint64_t i = 0; i < config.generator.events; ++i) {
    Generated g = Generate(i, config.generator);
    switch (g.kind) {
      case Generated::Kind::kCorrupt: x.dead_reasons.insert("malformed message"); break;
      case Generated::Kind::kInvalid: x.dead_reasons.insert(g.invalid_reason); break;
      case Generated::Kind::kDuplicate:
      case Generated::Kind::kValid:
        if (seen_ids.insert(g.event.event_id).second) x.events.push_back(g.event);
        break;
    }
  }
  std::sort(x.events.begin(), x.events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.timestamp, a.event_id) < std::tie(b.timestamp, b.event_id);
  });

  // Clicks per item in every 10-minute window sliding by 1 minute that contains them.
  for (const Event& e : x.events) {
    if (e.type != EventType::kClick) continue;
    // Windows [end - size, end) with end a multiple of the slide: the first ends just after the
    // click, the last starts at or before it.
    int64_t first_end = (e.timestamp / config.click_slide_ms + 1) * config.click_slide_ms;
    for (int64_t end = first_end; end - config.click_window_ms <= e.timestamp; end += config.click_slide_ms)
      ++x.clicks[{e.item_id, end}];
  }

  std::map<uint64_t, std::vector<Event>> by_user;
  for (const Event& e : x.events) by_user[e.user_id].push_back(e);
  for (const auto& [user, events] : by_user) {
    // Cart abandonment: an add arms (or re-arms, later) a timeout per item; a purchase within
    // the timeout disarms it; the end of the stream fires whatever is armed.
    std::map<uint64_t, int64_t> armed;
    for (const Event& e : events) {
      for (auto it = armed.begin(); it != armed.end();) {  // timers due before this event
        if (it->second + config.cart_abandonment_ms < e.timestamp) {
          x.offers.insert({user, it->first, it->second});
          it = armed.erase(it);
        } else {
          ++it;
        }
      }
      if (e.type == EventType::kAddToCart) armed[e.item_id] = e.timestamp;
      if (e.type == EventType::kPurchase) {
        auto it = armed.find(e.item_id);
        if (it != armed.end() && e.timestamp <= it->second + config.cart_abandonment_ms) armed.erase(it);
      }
    }
    for (const auto& [item, t] : armed) x.offers.insert({user, item, t});

    // Sessions: a new one starts after a gap of at least session_gap_ms.
    UserProfile p;
    p.user_id = user;
    std::map<uint8_t, int64_t> last_seen;
    size_t start = 0;
    for (size_t k = 0; k <= events.size(); ++k) {
      if (k == events.size() || (k > start && events[k].timestamp - events[k - 1].timestamp >= config.session_gap_ms)) {
        double engagement = 0;
        for (size_t j = start; j < k; ++j) engagement += Weight(events[j].type);
        x.sessions.insert({user, events[start].timestamp, events[k - 1].timestamp, uint32_t(k - start)});
        ++p.sessions;
        p.session_ms += events[k - 1].timestamp - events[start].timestamp;
        p.engagement += engagement;
        start = k;
      }
      if (k == events.size()) break;
      const Event& e = events[k];
      p.views += e.type == EventType::kView;
      p.clicks += e.type == EventType::kClick;
      p.carts += e.type == EventType::kAddToCart;
      if (e.type == EventType::kPurchase) {
        ++p.purchases;
        p.spent += e.price;
      }
      last_seen[e.category] = std::max(last_seen.count(e.category) ? last_seen[e.category] : INT64_MIN, e.timestamp);
    }
    std::vector<std::pair<int64_t, uint8_t>> recent;
    for (auto [c, t] : last_seen) recent.push_back({t, c});
    std::sort(recent.begin(), recent.end(), [](auto a, auto b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    p.recent_count = uint8_t(std::min<size_t>(recent.size(), kRecentCategories));
    for (int i = 0; i < p.recent_count; ++i) p.recent_categories[size_t(i)] = recent[size_t(i)].second;
    x.profiles[user] = p;
  }
  return x;
}

const Expected& TheExpectation() {
  static const Expected x = Expect(Config());
  return x;
}

void CheckAgainstExpectation(const Results& r) {
  const Expected& x = TheExpectation();
  ASSERT_GT(x.offers.size(), 100u);  // the input really exercises every path
  ASSERT_GT(x.dead_reasons.size(), 100u);

  std::multiset<std::string> reasons;
  for (const auto& d : r.dead->values()) reasons.insert(d.reason);
  EXPECT_EQ(reasons, x.dead_reasons);

  std::multiset<std::tuple<uint64_t, uint64_t, int64_t>> offers;
  for (const auto& o : r.offers->values()) {
    offers.insert({o.user_id, o.item_id, o.cart_time});
    EXPECT_EQ(o.offer_time, o.cart_time + Config().cart_abandonment_ms);
  }
  EXPECT_EQ(offers, x.offers);

  std::map<std::pair<uint64_t, int64_t>, uint64_t> clicks;
  for (const auto& c : r.clicks->values()) {
    EXPECT_EQ(clicks.count({c.item_id, c.window_end}), 0u) << "window fired twice";
    clicks[{c.item_id, c.window_end}] = c.clicks;
  }
  EXPECT_EQ(clicks, x.clicks);

  std::multiset<std::tuple<uint64_t, int64_t, int64_t, uint32_t>> sessions;
  for (const auto& s : r.sessions->values()) sessions.insert({s.user_id, s.start, s.end, s.events});
  EXPECT_EQ(sessions, x.sessions);

  std::map<uint64_t, UserProfile> last;  // each user's profiles come from one subtask, in order
  for (const auto& p : r.profiles->values()) last[p.user_id] = p;
  ASSERT_EQ(last.size(), x.profiles.size());
  for (const auto& [user, want] : x.profiles) {
    const UserProfile& got = last[user];
    EXPECT_EQ(got.views, want.views) << user;
    EXPECT_EQ(got.clicks, want.clicks) << user;
    EXPECT_EQ(got.carts, want.carts) << user;
    EXPECT_EQ(got.purchases, want.purchases) << user;
    EXPECT_DOUBLE_EQ(got.spent, want.spent) << user;
    EXPECT_EQ(got.sessions, want.sessions) << user;
    EXPECT_EQ(got.session_ms, want.session_ms) << user;
    EXPECT_DOUBLE_EQ(got.engagement, want.engagement) << user;
    EXPECT_EQ(got.recent_count, want.recent_count) << user;
    EXPECT_EQ(got.recent_categories, want.recent_categories) << user;
  }

  // Recommendations come from trending items of categories the user has browsed.
  std::map<uint64_t, std::set<uint8_t>> browsed;
  for (const Event& e : x.events) browsed[e.user_id].insert(e.category);
  ASSERT_GT(r.recommendations->size(), 0u);
  for (const auto& rec : r.recommendations->values())
    for (int i = 0; i < rec.count; ++i)
      EXPECT_TRUE(browsed[rec.user_id].count(CatalogEntry(rec.items[size_t(i)]).category));
}

TEST(Personalization, ProducesExactlyTheExpectedOutputsAtParallelismOne) {
  CheckAgainstExpectation(RunJob(1));
}

TEST(Personalization, ProducesExactlyTheExpectedOutputsAtParallelismThree) {
  CheckAgainstExpectation(RunJob(3));
}

TEST(Personalization, ProducesExactlyTheExpectedOutputsWithLmdbState) {
  CheckAgainstExpectation(RunJob(2, brook::StateBackendKind::kLmdb));
}

}  // namespace
}  // namespace personalization
