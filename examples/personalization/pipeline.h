// The real-time personalization pipeline:
//
//   raw events ─ validate ─┬─ dead letters (reason)
//                          └─ timestamps/watermarks ─ keyBy(event id) ─ keep first
//        ─ keyBy(user) + broadcast catalog ─ enrich ─┬─ keyBy(item) ─ sliding 10 min ─ item clicks ─ trending per category ─┐
//                                                    ├─ keyBy(user) ─ session windows ─ sessions ─┐                          │
//                                                    ├─ keyBy(user) + sessions ─ user profiles ───┴─ + trending (broadcast) ─ recommendations
//                                                    └─ keyBy(user) ─ cart abandonment timers ─ offers
//
// BuildPipeline adds it to an environment and returns its outputs; the caller attaches sinks
// (the demo prints, tests collect).
#pragma once

#include <brook/brook.h>

#include "examples/personalization/events.h"
#include "examples/personalization/user_features.h"

namespace personalization {

struct PipelineConfig {
  GeneratorConfig generator;
  int64_t max_out_of_orderness_ms = 5'000;
  int64_t dedup_ttl_ms = 3'600'000;             // remember event ids for an hour of event time
  int64_t click_window_ms = 600'000;            // clicks per item in the last 10 minutes...
  int64_t click_slide_ms = 60'000;              // ...updated every minute
  int64_t session_gap_ms = 300'000;             // a session ends after 5 quiet minutes
  int64_t cart_abandonment_ms = 1'800'000;      // offer after 30 minutes without purchase
  int64_t profile_interval_ms = 600'000;        // profiles are emitted every 10 minutes
  double events_per_second = 0;                 // 0: as fast as possible
};

struct PipelineOutputs {
  brook::DataStream<DeadLetter> dead_letters;
  brook::DataStream<ItemClicks> item_clicks;
  brook::DataStream<SessionSummary> sessions;
  brook::DataStream<UserProfile> profiles;
  brook::DataStream<CartOffer> offers;
  brook::DataStream<Trending> trending;
  brook::DataStream<Recommendation> recommendations;
};

PipelineOutputs BuildPipeline(brook::StreamEnvironment& env, const PipelineConfig& config);

}  // namespace personalization
