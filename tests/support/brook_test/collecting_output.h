// Test support: an Output that records everything it receives, in order.
#pragma once

#include <variant>
#include <vector>

#include "brook/runtime/output.h"

namespace brook::testing {

template <typename T>
class CollectingOutput final : public Output<T> {
 public:
  void Push(RecordBatch<T>& batch) override {
    for (auto& r : batch.records) {
      records.push_back(r);
      values.push_back(r.value);
    }
    ++batches;
  }
  void EmitWatermark(Watermark wm) override { watermarks.push_back(wm.timestamp); }
  void EmitWatermarkStatus(WatermarkStatus status) override { statuses.push_back(status.idle); }
  void EmitLatencyMarker(const LatencyMarker&) override { ++latency_markers; }
  void Flush() override { ++flushes; }

  std::vector<StreamRecord<T>> records;
  std::vector<T> values;
  std::vector<Timestamp> watermarks;
  std::vector<bool> statuses;  // true: idle
  int batches = 0;
  int latency_markers = 0;
  int flushes = 0;
};

}  // namespace brook::testing
