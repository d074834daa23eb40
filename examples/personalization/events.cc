#include "examples/personalization/events.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdio>
#include <cstring>

#include "brook/runtime/capnp_record.h"
#include "examples/personalization/clickstream.capnp.h"

namespace personalization {

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Sessions run in kSlots parallel lanes; each session has kSessionLength events, one every
// kSlots events of the stream, so timestamps stay (nearly) in index order while users'
// sessions interleave as in a real shop.
constexpr uint64_t kSlots = 64;
constexpr uint64_t kSessionLength = 8;

// The event at index i before duplication and corruption.
Event TrueEvent(uint64_t i, const GeneratorConfig& c) {
  const uint64_t slot = i % kSlots;
  const uint64_t round = i / kSlots;
  const uint64_t session_number = round / kSessionLength;
  const uint64_t position = round % kSessionLength;
  const uint64_t session = Mix(slot * 1'000'003 + session_number);
  const uint64_t roll = Mix(session ^ position) % 100;

  Event e;
  e.user_id = 1 + session % c.users;
  e.session_id = session;
  e.event_id = i + 1;
  e.timestamp = c.start_ms + int64_t(i) * c.event_spacing_ms +
                int64_t(Mix(i ^ 0x5151) % uint64_t(2 * c.max_jitter_ms + 1)) - c.max_jitter_ms;
  e.device = Device(session % 3);
  e.category = uint8_t(Mix(session) % kCategoryCount);
  const uint64_t per_category = c.items / kCategoryCount;
  uint64_t pick = Mix(session ^ (position * 7919)) % per_category;
  // The session's cart item: chosen at position 5, bought at position 7 (sometimes).
  const bool has_cart = Mix(session ^ 0xca27) % 100 < 50;
  const bool buys = has_cart && Mix(session ^ 0xb0b) % 100 < 50;
  const uint64_t cart_pick = Mix(session ^ 0xca27ca27) % per_category;
  if (position == 5 && has_cart) {
    e.type = EventType::kAddToCart;
    pick = cart_pick;
  } else if (position == 7 && buys) {
    e.type = EventType::kPurchase;
    pick = cart_pick;
  } else {
    e.type = roll < 65 ? EventType::kView : EventType::kClick;
  }
  e.item_id = 1 + e.category + kCategoryCount * pick;
  e.price = CatalogEntry(e.item_id).price;
  return e;
}

}  // namespace

int CategoryIndex(const std::string& name) {
  for (int i = 0; i < kCategoryCount; ++i)
    if (name == kCategories[i]) return i;
  return -1;
}

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kView: return "view";
    case EventType::kClick: return "click";
    case EventType::kAddToCart: return "add_to_cart";
    case EventType::kPurchase: return "purchase";
  }
  return "?";
}

CatalogItem CatalogEntry(uint64_t item_id) {
  CatalogItem item;
  item.item_id = item_id;
  item.category = uint8_t((item_id - 1) % kCategoryCount);
  item.price = 5.0 + double((item_id * 37) % 200);
  std::snprintf(item.title, sizeof item.title, "%s #%llu", kCategories[item.category],
                (unsigned long long)item_id);
  return item;
}

Generated Generate(uint64_t i, const GeneratorConfig& c) {
  Generated g;
  const uint64_t roll = Mix(i ^ 0xdeadbeef) % 100;
  if (i > 0 && roll < uint64_t(c.percent_duplicates)) {
    Generated previous = Generate(i - 1, c);
    if (previous.kind == Generated::Kind::kValid || previous.kind == Generated::Kind::kDuplicate) {
      g.kind = Generated::Kind::kDuplicate;
      g.event = previous.event;  // same event id: a retry of the same event
      return g;
    }
  }
  g.event = TrueEvent(i, c);
  if (roll >= 50 && roll < 50 + uint64_t(c.percent_corrupt)) {
    g.kind = Generated::Kind::kCorrupt;
  } else if (roll >= 60 && roll < 60 + uint64_t(c.percent_invalid)) {
    g.kind = Generated::Kind::kInvalid;
    switch (Mix(i) % 3) {
      case 0:
        g.event.price = -g.event.price;
        g.invalid_reason = "price must be positive";
        break;
      case 1:
        g.event.user_id = 0;
        g.invalid_reason = "user_id is missing";
        break;
      default:
        g.event.category = 255;  // encoded as an unknown category name
        g.invalid_reason = "unknown category";
        break;
    }
  }
  return g;
}

RawEvent Encode(const Generated& g) {
  const Event& e = g.event;
  auto record = brook::CapnpRecord<ClickEvent>::Build([&](ClickEvent::Builder b) {
    b.setUserId(e.user_id);
    b.setSessionId(e.session_id);
    b.setEventId(e.event_id);
    b.setTimestamp(e.timestamp);
    b.setEventType(ClickEvent::EventType(uint16_t(e.type)));
    b.setItemId(e.item_id);
    b.setCategory(e.category < kCategoryCount ? kCategories[e.category] : "unheard-of");
    b.setDevice(ClickEvent::Device(uint16_t(e.device)));
    b.setPrice(e.price);
  });
  auto bytes = record.bytes();
  RawEvent raw{std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size())};
  if (g.kind == Generated::Kind::kCorrupt) {
    // A torn write: the header promises more words than arrive.
    raw.bytes.resize(raw.bytes.size() / 2);
  }
  return raw;
}

std::variant<Event, DeadLetter> Validate(const RawEvent& raw) {
  DeadLetter dead;
  dead.size = raw.bytes.size();
  brook::CapnpRecord<ClickEvent> record;
  try {
    record = brook::CapnpRecord<ClickEvent>::FromBytes(std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(raw.bytes.data()), raw.bytes.size()));
  } catch (const std::exception& ex) {
    dead.reason = "malformed message";
    return dead;
  }
  ClickEvent::Reader r = record.reader();
  dead.event_id = r.getEventId();
  Event e;
  e.user_id = r.getUserId();
  e.session_id = r.getSessionId();
  e.event_id = r.getEventId();
  e.timestamp = r.getTimestamp();
  e.item_id = r.getItemId();
  e.price = r.getPrice();
  auto type = uint16_t(r.getEventType());
  auto device = uint16_t(r.getDevice());
  int category = CategoryIndex(r.getCategory().cStr());
  if (e.event_id == 0) dead.reason = "event_id is missing";
  else if (e.user_id == 0) dead.reason = "user_id is missing";
  else if (e.timestamp <= 0) dead.reason = "timestamp is missing";
  else if (type > uint16_t(EventType::kPurchase)) dead.reason = "unknown event type";
  else if (device > uint16_t(Device::kTablet)) dead.reason = "unknown device";
  else if (category < 0) dead.reason = "unknown category";
  else if (!(e.price > 0)) dead.reason = "price must be positive";
  else if (e.item_id == 0) dead.reason = "item_id is missing";
  if (!dead.reason.empty()) return dead;
  e.type = EventType(type);
  e.device = Device(device);
  e.category = uint8_t(category);
  return e;
}

}  // namespace personalization
