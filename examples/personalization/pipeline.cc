#include "examples/personalization/pipeline.h"

#include <algorithm>
#include <ostream>
#include <utility>
#include <vector>

namespace personalization {

using brook::Collector;
using brook::KeyedBroadcastContext;
using brook::KeyedProcessContext;
using brook::Timestamp;

namespace {

const brook::OutputTag<DeadLetter> kDeadLetters("dead-letters");
const brook::MapStateDescriptor<uint64_t, CatalogItem> kCatalog{"catalog"};
const brook::MapStateDescriptor<uint8_t, Trending> kTrending{"trending"};

// Validation: parse against the schema, check the shop's rules, reject with a reason.
void ValidateEvent(const RawEvent& raw, brook::ProcessContext& ctx, Collector<Event>& out) {
  auto result = Validate(raw);
  if (auto* event = std::get_if<Event>(&result)) out.collect(*event);
  else ctx.output(kDeadLetters, std::get<DeadLetter>(std::move(result)));
}

// Enrichment from the broadcast catalog. Nothing orders the catalog before the clicks, so an
// event whose item is not known yet waits in keyed state until event time passes it.
struct EnrichFromCatalog {
  using Out = EnrichedEvent;
  brook::ListStateDescriptor<Event> waiting{"waiting-for-catalog"};

  void processElement(const Event& e, KeyedBroadcastContext<uint64_t>& ctx, Collector<Out>& out) {
    if (TryEnrich(e, ctx, out)) return;
    ctx.getListState(waiting).add(e);
    ctx.timerService().registerEventTimeTimer(e.timestamp);
  }
  void onTimer(Timestamp, KeyedBroadcastContext<uint64_t>& ctx, Collector<Out>& out) {
    auto& list = ctx.getListState(waiting);
    std::vector<Event> still;
    for (const Event& e : list.get())
      if (!TryEnrich(e, ctx, out)) still.push_back(e);
    if (still.empty()) list.clear();
    else list.update(still);
  }
  void processBroadcastElement(const CatalogItem& item, brook::BroadcastContext& ctx,
                               Collector<Out>&) {
    ctx.getBroadcastState(kCatalog).put(item.item_id, item);
  }

  bool TryEnrich(const Event& e, KeyedBroadcastContext<uint64_t>& ctx, Collector<Out>& out) {
    auto item = ctx.getBroadcastState(kCatalog).get(e.item_id);
    if (!item) return false;
    EnrichedEvent enriched;
    enriched.event = e;
    enriched.list_price = item->price;
    std::copy(std::begin(item->title), std::end(item->title), enriched.title);
    out.collectWithTimestamp(enriched, e.timestamp);
    return true;
  }
};

struct CountClicks {
  using Acc = uint64_t;
  using Out = uint64_t;
  Acc CreateAccumulator() const { return 0; }
  void Add(const EnrichedEvent&, Acc& acc) const { ++acc; }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const { into += from; }
};

double Engagement(EventType type) {
  switch (type) {
    case EventType::kView: return 1;
    case EventType::kClick: return 2;
    case EventType::kAddToCart: return 5;
    case EventType::kPurchase: return 10;
  }
  return 0;
}

struct SummarizeSession {
  using Acc = SessionSummary;
  using Out = SessionSummary;
  Acc CreateAccumulator() const { return SessionSummary{0, INT64_MAX, INT64_MIN}; }
  void Add(const EnrichedEvent& in, Acc& acc) const {
    const Event& e = in.event;
    acc.user_id = e.user_id;
    acc.start = std::min(acc.start, e.timestamp);
    acc.end = std::max(acc.end, e.timestamp);
    ++acc.events;
    acc.clicks += e.type == EventType::kClick;
    acc.carts += e.type == EventType::kAddToCart;
    acc.purchases += e.type == EventType::kPurchase;
    acc.engagement += Engagement(e.type);
  }
  Out GetResult(const Acc& acc) const { return acc; }
  void Merge(const Acc& from, Acc& into) const {
    if (from.events == 0) return;
    into.user_id = from.user_id;
    into.start = std::min(into.start, from.start);
    into.end = std::max(into.end, from.end);
    into.events += from.events;
    into.clicks += from.clicks;
    into.carts += from.carts;
    into.purchases += from.purchases;
    into.engagement += from.engagement;
  }
};

// User profiles in keyed state: counts from the events, session statistics from the session
// windows, recent categories by event time. Emitted when event time passes each profile
// interval (and after each session), so an emitted profile includes every event up to then.
struct ProfileBuilder {
  using Out = UserProfile;
  int64_t interval_ms;
  brook::ValueStateDescriptor<UserProfile> profile{"profile"};
  brook::MapStateDescriptor<uint8_t, int64_t> category_seen{"category-last-seen"};

  void processElement1(const EnrichedEvent& in, KeyedProcessContext<uint64_t>& ctx,
                       Collector<Out>&) {
    const Event& e = in.event;
    auto& state = ctx.getState(profile);
    UserProfile p = state.valueOr(UserProfile{});
    p.user_id = e.user_id;
    p.views += e.type == EventType::kView;
    p.clicks += e.type == EventType::kClick;
    p.carts += e.type == EventType::kAddToCart;
    if (e.type == EventType::kPurchase) {
      ++p.purchases;
      p.spent += e.price;
    }
    state.update(p);
    auto& seen = ctx.getMapState(category_seen);
    if (seen.get(e.category).value_or(INT64_MIN) < e.timestamp) seen.put(e.category, e.timestamp);
    Timestamp next = (e.timestamp / interval_ms + 1) * interval_ms;
    ctx.timerService().registerEventTimeTimer(next);
  }

  void processElement2(const SessionSummary& s, KeyedProcessContext<uint64_t>& ctx,
                       Collector<Out>&) {
    auto& state = ctx.getState(profile);
    UserProfile p = state.valueOr(UserProfile{});
    p.user_id = s.user_id;
    ++p.sessions;
    p.session_ms += s.end - s.start;
    p.engagement += s.engagement;
    state.update(p);
    ctx.timerService().registerEventTimeTimer(ctx.timestamp() + 1);
  }

  void onTimer(Timestamp, KeyedProcessContext<uint64_t>& ctx, Collector<Out>& out) {
    auto p = ctx.getState(profile).value();
    if (!p) return;
    std::vector<std::pair<int64_t, uint8_t>> recent;
    for (const auto& [category, ts] : ctx.getMapState(category_seen).entries())
      recent.push_back({ts, category});
    std::sort(recent.begin(), recent.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    p->recent_count = uint8_t(std::min<size_t>(recent.size(), kRecentCategories));
    for (int i = 0; i < p->recent_count; ++i) p->recent_categories[size_t(i)] = recent[size_t(i)].second;
    out.collect(*p);
  }
};

// Cart abandonment: an add-to-cart arms a timeout per item; a purchase of the item within the
// timeout disarms it; a timeout that expires with the item still in the cart emits an offer.
// Adds and purchases can arrive out of event-time order (shuffles, events waiting for the
// catalog), and the rules are order-sensitive, so they are buffered and applied in event-time
// order once the watermark passes them (ties by event id).
struct CartAbandonment {
  using Out = CartOffer;
  int64_t timeout_ms;
  brook::MapStateDescriptor<int64_t, std::vector<Event>> pending{"cart-events-by-time"};
  brook::MapStateDescriptor<uint64_t, int64_t> cart{"cart"};  // item -> time added

  void processElement(const EnrichedEvent& in, KeyedProcessContext<uint64_t>& ctx,
                      Collector<Out>&) {
    const Event& e = in.event;
    if (e.type != EventType::kAddToCart && e.type != EventType::kPurchase) return;
    auto& buffer = ctx.getMapState(pending);
    auto events = buffer.get(e.timestamp).value_or(std::vector<Event>{});
    events.push_back(e);
    buffer.put(e.timestamp, events);
    ctx.timerService().registerEventTimeTimer(e.timestamp);
  }

  void onTimer(Timestamp time, KeyedProcessContext<uint64_t>& ctx, Collector<Out>& out) {
    // Events at this time first: a purchase exactly at the deadline still counts.
    auto& buffer = ctx.getMapState(pending);
    auto& items = ctx.getMapState(cart);
    if (auto events = buffer.get(time)) {
      buffer.remove(time);
      std::sort(events->begin(), events->end(),
                [](const Event& a, const Event& b) { return a.event_id < b.event_id; });
      for (const Event& e : *events) Apply(e, items, ctx);
    }
    for (const auto& [item, added] : items.entries()) {
      if (added + timeout_ms != time) continue;
      items.remove(item);
      out.collectWithTimestamp(CartOffer{ctx.getCurrentKey(), item, added, time,
                                         10 + int(CatalogEntry(item).price) % 3 * 5},
                               time);
    }
  }

  void Apply(const Event& e, brook::MapState<uint64_t, int64_t>& items,
             KeyedProcessContext<uint64_t>& ctx) {
    auto added = items.get(e.item_id);
    if (e.type == EventType::kAddToCart) {
      // Re-adding re-arms the timeout from the later time.
      if (added) ctx.timerService().deleteEventTimeTimer(*added + timeout_ms);
      items.put(e.item_id, e.timestamp);
      ctx.timerService().registerEventTimeTimer(e.timestamp + timeout_ms);
    } else if (added && e.timestamp <= *added + timeout_ms) {
      ctx.timerService().deleteEventTimeTimer(*added + timeout_ms);
      items.remove(e.item_id);
    }
  }
};

// The most clicked items per category, per window: buffered until event time passes the
// window's end, when every item's count for it has arrived.
struct TrendingItems {
  using Out = Trending;
  brook::MapStateDescriptor<int64_t, std::vector<std::pair<uint64_t, uint64_t>>> pending{
      "clicks-by-window"};

  void processElement(const ItemClicks& c, KeyedProcessContext<uint8_t>& ctx, Collector<Out>&) {
    auto& windows = ctx.getMapState(pending);
    auto list = windows.get(c.window_end).value_or(std::vector<std::pair<uint64_t, uint64_t>>{});
    list.push_back({c.clicks, c.item_id});
    windows.put(c.window_end, list);
    ctx.timerService().registerEventTimeTimer(c.window_end - 1);
  }

  void onTimer(Timestamp time, KeyedProcessContext<uint8_t>& ctx, Collector<Out>& out) {
    auto& windows = ctx.getMapState(pending);
    auto list = windows.get(time + 1);
    if (!list) return;
    windows.remove(time + 1);
    std::sort(list->begin(), list->end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    Trending t;
    t.category = ctx.getCurrentKey();
    t.window_end = time + 1;
    t.count = uint8_t(std::min<size_t>(list->size(), kTrendingSize));
    for (size_t i = 0; i < t.count; ++i) {
      t.clicks[i] = (*list)[i].first;
      t.items[i] = (*list)[i].second;
    }
    out.collect(t);
  }
};

// Recommendations: on each profile update, the trending items of the user's recent categories.
struct Recommender {
  using Out = Recommendation;

  void processElement(const UserProfile& p, KeyedBroadcastContext<uint64_t>& ctx,
                      Collector<Out>& out) {
    const auto& trending = ctx.getBroadcastState(kTrending);
    Recommendation r;
    r.user_id = p.user_id;
    r.at = ctx.timestamp();
    for (int c = 0; c < p.recent_count && r.count < kTrendingSize; ++c) {
      auto t = trending.get(p.recent_categories[size_t(c)]);
      if (!t) continue;
      for (int i = 0; i < t->count && r.count < kTrendingSize; ++i) r.items[r.count++] = t->items[size_t(i)];
    }
    if (r.count > 0) out.collect(r);
  }
  void processBroadcastElement(const Trending& t, brook::BroadcastContext& ctx, Collector<Out>&) {
    auto& state = ctx.getBroadcastState(kTrending);
    auto current = state.get(t.category);
    if (!current || current->window_end <= t.window_end) state.put(t.category, t);
  }
};

}  // namespace

PipelineOutputs BuildPipeline(brook::StreamEnvironment& env, const PipelineConfig& config) {
  brook::GeneratorOptions source_options;
  source_options.count = config.generator.events;
  source_options.records_per_second = config.events_per_second;
  const GeneratorConfig generator = config.generator;
  auto raw = env.fromGenerator(
                    "clickstream", [generator](uint64_t i) { return Encode(Generate(i, generator)); },
                    source_options)
                 .uid("clickstream-source");

  auto validated = raw.process(ValidateEvent).name("validate").uid("validate");
  auto dead_letters = validated.getSideOutput(kDeadLetters);

  auto events =
      validated
          .assignTimestampsAndWatermarks(
              brook::WatermarkStrategy<Event>::forBoundedOutOfOrderness(config.max_out_of_orderness_ms)
                  .withTimestampAssigner([](const Event& e) { return e.timestamp; }))
          .name("event time")
          .keyBy([](const Event& e) { return e.event_id; })
          .process(brook::KeepFirst<Event>(brook::StateTtlConfig::EventTime(config.dedup_ttl_ms)))
          .name("dedup")
          .uid("dedup");

  std::vector<CatalogItem> catalog;
  for (uint64_t item = 1; item <= generator.items; ++item) catalog.push_back(CatalogEntry(item));
  auto catalog_stream = env.fromCollection(catalog, "catalog").setParallelism(1);

  auto enriched = events.keyBy([](const Event& e) { return e.user_id; })
                      .connect(catalog_stream.broadcast(kCatalog))
                      .process(EnrichFromCatalog{})
                      .name("enrich")
                      .uid("enrich");

  auto item_clicks =
      enriched.filter([](const EnrichedEvent& e) { return e.event.type == EventType::kClick; })
          .name("clicks")
          .keyBy([](const EnrichedEvent& e) { return e.event.item_id; })
          .window(brook::SlidingEventTimeWindows::of(config.click_window_ms, config.click_slide_ms))
          .aggregate(CountClicks{},
                     [](const uint64_t& item, const brook::TimeWindow& window, const uint64_t& clicks,
                        Collector<ItemClicks>& out) {
                       out.collect(ItemClicks{item, CatalogEntry(item).category, window.end, clicks});
                     })
          .name("clicks per item, 10 min")
          .uid("item-clicks");

  auto sessions =
      enriched.keyBy([](const EnrichedEvent& e) { return e.event.user_id; })
          .window(brook::EventTimeSessionWindows::withGap(config.session_gap_ms))
          .aggregate(SummarizeSession{})
          .name("sessions")
          .uid("sessions");

  auto profiles = enriched.keyBy([](const EnrichedEvent& e) { return e.event.user_id; })
                      .connect(sessions.keyBy([](const SessionSummary& s) { return s.user_id; }))
                      .process(ProfileBuilder{config.profile_interval_ms})
                      .name("user profiles")
                      .uid("profiles");

  auto offers = enriched.keyBy([](const EnrichedEvent& e) { return e.event.user_id; })
                    .process(CartAbandonment{config.cart_abandonment_ms})
                    .name("cart abandonment")
                    .uid("cart-abandonment");

  auto trending = item_clicks.keyBy([](const ItemClicks& c) { return c.category; })
                      .process(TrendingItems{})
                      .name("trending per category")
                      .uid("trending");

  auto recommendations = profiles.keyBy([](const UserProfile& p) { return p.user_id; })
                             .connect(trending.broadcast(kTrending))
                             .process(Recommender{})
                             .name("recommend")
                             .uid("recommend");

  return {dead_letters, item_clicks, sessions, profiles, offers, trending, recommendations};
}

std::ostream& operator<<(std::ostream& os, const DeadLetter& d) {
  return os << "dead letter: " << d.reason << " (event " << d.event_id << ", " << d.size
            << " bytes)";
}

std::ostream& operator<<(std::ostream& os, const CartOffer& o) {
  return os << "offer: user " << o.user_id << " gets " << o.discount_percent << "% off item "
            << o.item_id << " (in cart since " << o.cart_time << ")";
}

std::ostream& operator<<(std::ostream& os, const Recommendation& r) {
  os << "recommend to user " << r.user_id << ":";
  for (int i = 0; i < r.count; ++i) os << " " << r.items[size_t(i)];
  return os;
}

std::ostream& operator<<(std::ostream& os, const UserProfile& p) {
  os << "user " << p.user_id << ": " << p.views << " views, " << p.clicks << " clicks, "
     << p.carts << " carts, " << p.purchases << " purchases (" << p.spent << " spent), "
     << p.sessions << " sessions, engagement " << p.engagement << ", recent:";
  for (int i = 0; i < p.recent_count; ++i) os << " " << kCategories[p.recent_categories[size_t(i)]];
  return os;
}

}  // namespace personalization
