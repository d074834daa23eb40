#include "brook/runtime/network/element_codec.h"

#include <string>
#include <type_traits>

namespace brook::network {

void EncodeEvent(BufferWriter& out, const StreamEvent& event) {
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Watermark>) {
          out.Write(ElementTag::kWatermark);
          out.Write<int64_t>(e.timestamp);
        } else if constexpr (std::is_same_v<E, WatermarkStatus>) {
          out.Write(ElementTag::kWatermarkStatus);
          out.Write<uint8_t>(e.idle ? 1 : 0);
        } else if constexpr (std::is_same_v<E, CheckpointBarrier>) {
          out.Write(ElementTag::kCheckpointBarrier);
          out.Write<int64_t>(e.id.value());
          out.Write<int64_t>(e.trigger_time);
          out.Write<uint8_t>(uint8_t(e.kind));
          out.Write<uint8_t>(e.unaligned ? 1 : 0);
        } else if constexpr (std::is_same_v<E, LatencyMarker>) {
          out.Write(ElementTag::kLatencyMarker);
          out.Write<int64_t>(e.marked_time_ns);
          out.Write<int32_t>(e.source_vertex.value());
          out.Write<int32_t>(e.source_subtask.value());
        } else {
          static_assert(std::is_same_v<E, EndOfPartition>);
          out.Write(ElementTag::kEndOfPartition);
        }
      },
      event);
}

namespace {
bool ReadFlag(BufferReader& in) {
  const auto byte = in.Read<uint8_t>();
  if (byte > 1) throw SerdeError("network buffer: invalid flag byte " + std::to_string(byte));
  return byte == 1;
}
}  // namespace

StreamEvent DecodeEvent(BufferReader& in, uint8_t tag) {
  switch (ElementTag(tag)) {
    case ElementTag::kWatermark:
      return Watermark{in.Read<int64_t>()};
    case ElementTag::kWatermarkStatus:
      return WatermarkStatus{ReadFlag(in)};
    case ElementTag::kCheckpointBarrier: {
      CheckpointBarrier barrier;
      barrier.id = CheckpointId(in.Read<int64_t>());
      barrier.trigger_time = in.Read<int64_t>();
      const auto kind = in.Read<uint8_t>();
      if (kind > uint8_t(kLastCheckpointKind))
        throw SerdeError("network buffer: invalid checkpoint kind " + std::to_string(kind));
      barrier.kind = CheckpointKind(kind);
      barrier.unaligned = ReadFlag(in);
      return barrier;
    }
    case ElementTag::kLatencyMarker: {
      LatencyMarker marker;
      marker.marked_time_ns = in.Read<int64_t>();
      marker.source_vertex = VertexId(in.Read<int32_t>());
      marker.source_subtask = SubtaskIndex(in.Read<int32_t>());
      return marker;
    }
    case ElementTag::kEndOfPartition:
      return EndOfPartition{};
    case ElementTag::kRecords:
      break;
  }
  throw SerdeError("network buffer: unknown element tag " + std::to_string(tag));
}

}  // namespace brook::network
