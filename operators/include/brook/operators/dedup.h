// Keep-first de-duplication: the idempotency step of ingestion. Applied to a stream keyed by
// the records' id, it emits the first record of each id and drops every later one for as long
// as the id is remembered (the state TTL). Without a TTL the ids are kept forever.
//
//   events.keyBy([](const Event& e) { return e.event_id; })
//         .process(brook::KeepFirst<Event>(brook::StateTtlConfig::EventTime(3'600'000)))
//
// Counts what it dropped in the metric "numDuplicatesDropped".
#pragma once

#include <memory>

#include "brook/operators/keyed_process_operator.h"

namespace brook {

template <typename T>
class KeepFirst {
 public:
  using Out = T;

  explicit KeepFirst(StateTtlConfig ttl = {}) : seen_{"keep-first-seen", ttl} {}

  void open(const RuntimeContext& context) {
    if (context.metrics)
      dropped_ = context.metrics->AddCounter("numDuplicatesDropped", context.metric_labels);
  }

  template <typename K>
  void processElement(const T& value, KeyedProcessContext<K>& ctx, Collector<T>& out) {
    auto& seen = ctx.getState(seen_);
    if (seen.value()) {
      if (dropped_) dropped_->Inc();
      return;
    }
    seen.update(true);
    out.collect(value);
  }

 private:
  ValueStateDescriptor<bool> seen_;
  std::shared_ptr<Counter> dropped_;  // shared with the metric registry
};

}  // namespace brook
