// The clickstream demo: generated page views, clicks and add-to-cart events; counts events per
// user and per item with keyed reduces, and prints the top users and items when the stream
// ends.
//
//   ./clickstream [--parallelism N] [-- --events 200000 --users 1000 --items 500 --rate 0]
#include <brook/brook.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

enum class EventType : uint8_t { kView, kClick, kAddToCart };

struct ClickEvent {
  uint64_t user_id;
  uint64_t item_id;
  EventType type;
  int64_t timestamp_ms;
};

// splitmix64: a cheap, well-mixed hash, so event i is a pure function of i.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A few users and items are far more active than the rest, as in real traffic.
uint64_t Skewed(uint64_t h, uint64_t n) {
  uint64_t hot = std::max<uint64_t>(1, n / 50);
  return (h % 100 < 30) ? (h >> 8) % hot : (h >> 8) % n;
}

struct EventGenerator {
  uint64_t users;
  uint64_t items;
  ClickEvent operator()(uint64_t i) const {
    uint64_t h = Mix(i);
    uint64_t roll = Mix(h) % 100;
    EventType type = roll < 70 ? EventType::kView : roll < 92 ? EventType::kClick
                                                              : EventType::kAddToCart;
    return {Skewed(h, users), Skewed(Mix(h ^ 0xabc), items), type,
            1'700'000'000'000 + int64_t(i) * 5};
  }
};

struct Counts {
  uint64_t key = 0;
  uint64_t events = 0;
  uint64_t views = 0;
  uint64_t clicks = 0;
  uint64_t carts = 0;
};

Counts CountOf(uint64_t key, const ClickEvent& e) {
  return {key, 1, e.type == EventType::kView, e.type == EventType::kClick,
          e.type == EventType::kAddToCart};
}

Counts Add(const Counts& a, const Counts& b) {
  return {a.key, a.events + b.events, a.views + b.views, a.clicks + b.clicks, a.carts + b.carts};
}

// Keeps the latest running count per key and prints the top N when the input ends.
class TopSummary {
 public:
  TopSummary(std::string title, std::string key_prefix, size_t top)
      : title_(std::move(title)), key_prefix_(std::move(key_prefix)), top_(top) {}

  void operator()(const Counts& c) { latest_[c.key] = c; }

  void finish() {
    std::vector<Counts> all;
    uint64_t total = 0;
    for (const auto& [key, c] : latest_) {
      all.push_back(c);
      total += c.events;
    }
    std::sort(all.begin(), all.end(), [](const Counts& a, const Counts& b) {
      return a.events != b.events ? a.events > b.events : a.key < b.key;
    });
    std::string text = "\n" + title_ + ": " + std::to_string(all.size()) + " distinct, " +
                       std::to_string(total) + " events\n";
    char line[160];
    std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %10s\n", "key", "events", "views",
                  "clicks", "carts");
    text += line;
    for (size_t i = 0; i < std::min(top_, all.size()); ++i) {
      const Counts& c = all[i];
      std::string key = key_prefix_ + std::to_string(c.key);
      std::snprintf(line, sizeof line, "  %-12s %10llu %10llu %10llu %10llu\n", key.c_str(),
                    (unsigned long long)c.events, (unsigned long long)c.views,
                    (unsigned long long)c.clicks, (unsigned long long)c.carts);
      text += line;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
  }

 private:
  std::string title_;
  std::string key_prefix_;
  size_t top_;
  std::map<uint64_t, Counts> latest_;
};

}  // namespace

BROOK_JOB(clickstream) {
  brook::GeneratorOptions options;
  options.count = uint64_t(args.GetInt("events", 200'000));
  options.records_per_second = double(args.GetInt("rate", 0));
  EventGenerator generate{uint64_t(args.GetInt("users", 1000)),
                          uint64_t(args.GetInt("items", 500))};

  auto events = env.fromGenerator("clickstream", generate, options).uid("clickstream-source");

  events.map([](const ClickEvent& e) { return CountOf(e.user_id, e); })
      .name("to user counts")
      .keyBy([](const Counts& c) { return c.key; })
      .reduce(Add)
      .name("events per user")
      .uid("events-per-user")
      .sinkTo(TopSummary("Top users", "user-", 10), "top users")
      .setParallelism(1);

  events.filter([](const ClickEvent& e) { return e.type != EventType::kView; })
      .name("clicks and carts")
      .map([](const ClickEvent& e) { return CountOf(e.item_id, e); })
      .name("to item counts")
      .keyBy([](const Counts& c) { return c.key; })
      .reduce(Add)
      .name("interactions per item")
      .uid("interactions-per-item")
      .sinkTo(TopSummary("Top items by clicks and add-to-carts", "item-", 10), "top items")
      .setParallelism(1);
}
