// The personalization pipeline's data: clickstream events as they arrive (Cap'n Proto bytes,
// see clickstream.capnp), validated into a flat Event, the item catalog, and the deterministic
// generator that plays a shop's traffic: sessions of views, clicks, add-to-carts and purchases,
// with out-of-order timestamps, duplicates and malformed events.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <brook/brook.h>

namespace personalization {

enum class EventType : uint8_t { kView, kClick, kAddToCart, kPurchase };
enum class Device : uint8_t { kDesktop, kMobile, kTablet };

inline constexpr int kCategoryCount = 8;
inline constexpr const char* kCategories[kCategoryCount] = {
    "shoes", "shirts", "books", "games", "garden", "kitchen", "toys", "music"};
// The index of a category name, or -1.
int CategoryIndex(const std::string& name);
const char* EventTypeName(EventType type);

// A validated event. Flat and trivially copyable (the category is an index), so it moves
// through the job without allocation.
struct Event {
  uint64_t user_id = 0;
  uint64_t session_id = 0;
  uint64_t event_id = 0;
  int64_t timestamp = 0;
  EventType type = EventType::kView;
  Device device = Device::kDesktop;
  uint8_t category = 0;
  uint64_t item_id = 0;
  double price = 0;
};

// An event as it arrives: a Cap'n Proto message, or garbage.
struct RawEvent {
  std::string bytes;
};

// A rejected event and why.
struct DeadLetter {
  std::string reason;
  uint64_t event_id = 0;  // when it could be read
  size_t size = 0;
};

struct CatalogItem {
  uint64_t item_id = 0;
  uint8_t category = 0;
  double price = 0;
  char title[32] = {};
};

// An event after enrichment from the catalog.
struct EnrichedEvent {
  Event event;
  double list_price = 0;
  char title[32] = {};
};

struct GeneratorConfig {
  uint64_t events = 100'000;
  uint64_t users = 2000;
  uint64_t items = 400;          // a multiple of kCategoryCount
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01
  int64_t event_spacing_ms = 50; // one event every 50 ms of event time, all users together
  int64_t max_jitter_ms = 2000;  // timestamps are off by up to this much either way
  int percent_duplicates = 2;
  int percent_corrupt = 1;       // bytes that are not a valid message
  int percent_invalid = 1;       // valid messages with invalid fields
};

// What the generator made at index i, with the truth about it (tests use it to derive their
// expectations independently of the job).
struct Generated {
  enum class Kind { kValid, kDuplicate, kCorrupt, kInvalid };
  Kind kind = Kind::kValid;
  Event event;             // the event (for kDuplicate: a copy of index i-1's event)
  std::string invalid_reason;  // for kInvalid: the reason validation must give
};

Generated Generate(uint64_t index, const GeneratorConfig& config);
RawEvent Encode(const Generated& generated);
CatalogItem CatalogEntry(uint64_t item_id);

// Validates raw bytes against the schema and the shop's rules.
std::variant<Event, DeadLetter> Validate(const RawEvent& raw);

}  // namespace personalization
