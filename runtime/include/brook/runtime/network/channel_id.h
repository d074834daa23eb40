// ChannelId: the stable name of one logical network channel, the same in the producing and the
// consuming process. A channel carries the records of one edge of a job graph from one producer
// subtask to one consumer subtask:
//
//   job       the job run. REQUIRES: unique per execution attempt (a restarted job gets a new
//             one), so that buffers of a dead attempt can never reach a channel of the new one.
//   edge      the index of the edge in JobGraph::edges(); graph building is deterministic, so
//             every process computes the same index from the same job library.
//   producer  the producer's subtask index.
//   consumer  the consumer's subtask index.
//
// Many channels share one TCP connection; every buffer and credit names its channel.
// Threading: a plain value.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "brook/runtime/ids.h"

namespace brook {

struct ChannelId {
  JobId job;
  uint32_t edge = 0;
  SubtaskIndex producer;
  SubtaskIndex consumer;

  auto operator<=>(const ChannelId&) const = default;
  bool operator==(const ChannelId&) const = default;

  // "job/edge/producer->consumer", for logs and errors.
  std::string ToString() const {
    return std::to_string(job.value()) + "/e" + std::to_string(edge) + "/" +
           std::to_string(producer.value()) + "->" + std::to_string(consumer.value());
  }
};

// Where a NetworkEnvironment accepts data connections.
struct PeerAddress {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

}  // namespace brook

template <>
struct std::hash<brook::ChannelId> {
  size_t operator()(const brook::ChannelId& id) const noexcept {
    // Mix the fields so that ids differing only in subtasks spread over buckets.
    uint64_t h = id.job.value() * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t(id.edge) << 40) ^ (uint64_t(uint32_t(id.producer.value())) << 20) ^
         uint64_t(uint32_t(id.consumer.value()));
    h *= 0xff51afd7ed558ccdull;
    return size_t(h ^ (h >> 33));
  }
};
