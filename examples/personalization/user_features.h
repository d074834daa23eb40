// What the personalization pipeline derives from the clickstream: windowed features, sessions,
// user profiles and the actions taken on them. All flat and trivially copyable.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>

#include "examples/personalization/events.h"

namespace personalization {

// Clicks on one item in one sliding window (the last 10 minutes as of window_end).
struct ItemClicks {
  uint64_t item_id = 0;
  uint8_t category = 0;
  int64_t window_end = 0;
  uint64_t clicks = 0;
};

// One browsing session of a user (events no further apart than the session gap).
struct SessionSummary {
  uint64_t user_id = 0;
  int64_t start = 0;  // first event
  int64_t end = 0;    // last event
  uint32_t events = 0;
  uint32_t clicks = 0;
  uint32_t carts = 0;
  uint32_t purchases = 0;
  double engagement = 0;  // views 1, clicks 2, add-to-carts 5, purchases 10
};

inline constexpr int kRecentCategories = 3;

struct UserProfile {
  uint64_t user_id = 0;
  uint64_t views = 0;
  uint64_t clicks = 0;
  uint64_t carts = 0;
  uint64_t purchases = 0;
  double spent = 0;
  uint32_t sessions = 0;
  int64_t session_ms = 0;   // total length of the sessions
  double engagement = 0;    // summed over sessions
  // The categories seen most recently (by event time), most recent first.
  std::array<uint8_t, kRecentCategories> recent_categories{};
  uint8_t recent_count = 0;
};

// Added to the cart, not bought within the abandonment timeout: offer a discount.
struct CartOffer {
  uint64_t user_id = 0;
  uint64_t item_id = 0;
  int64_t cart_time = 0;
  int64_t offer_time = 0;
  int discount_percent = 0;
};

inline constexpr int kTrendingSize = 5;

// The most clicked items of a category in the window ending at window_end.
struct Trending {
  uint8_t category = 0;
  int64_t window_end = 0;
  std::array<uint64_t, kTrendingSize> items{};
  std::array<uint64_t, kTrendingSize> clicks{};
  uint8_t count = 0;
};

struct Recommendation {
  uint64_t user_id = 0;
  int64_t at = 0;
  std::array<uint64_t, kTrendingSize> items{};
  uint8_t count = 0;
};

std::ostream& operator<<(std::ostream& os, const DeadLetter& d);
std::ostream& operator<<(std::ostream& os, const CartOffer& o);
std::ostream& operator<<(std::ostream& os, const Recommendation& r);
std::ostream& operator<<(std::ostream& os, const UserProfile& p);

}  // namespace personalization
