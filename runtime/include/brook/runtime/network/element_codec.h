// The payload of a network buffer: a sequence of stream elements, each a tag byte and a body.
//
//   kRecords:  uint32 count, then per record the zigzag-varint delta of its timestamp from the
//              previous one (the first from kNoTimestamp, so records without timestamps cost one
//              byte), then the value as brook::Serde<T> writes it. A RecordBatch longer than a
//              buffer is split into several kRecords elements, one per buffer.
//   events:    the event's fields (EncodeEvent below). An event always ends its buffer.
//
// Every buffer decodes on its own, so the receiver hands out a buffer's elements without
// waiting for the next one. Records and events keep their order: the channel writes them into
// one byte stream in the order they were sent.
//
// Threading: plain functions.
#pragma once

#include <cstdint>

#include "brook/runtime/serde.h"
#include "brook/runtime/stream_element.h"

namespace brook::network {

enum class ElementTag : uint8_t {
  kRecords = 1,
  kWatermark = 2,
  kWatermarkStatus = 3,
  kCheckpointBarrier = 4,
  kLatencyMarker = 5,
  kEndOfPartition = 6,
};

// Bytes before the first record of a kRecords element: the tag and the count.
inline constexpr size_t kRecordsHeaderBytes = 5;

// Writes the tag and the fields of `event`.
void EncodeEvent(BufferWriter& out, const StreamEvent& event);

// Reads the fields of an event whose tag byte `tag` was just read. Throws SerdeError for an
// unknown tag or truncated fields.
StreamEvent DecodeEvent(BufferReader& in, uint8_t tag);

}  // namespace brook::network
