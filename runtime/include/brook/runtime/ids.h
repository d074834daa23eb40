// Strong id types, so a vertex id is never passed where a subtask index belongs, and the
// time vocabulary shared by every component.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace brook {

// A value of type T that only compares with values of the same Tag.
template <typename T, typename Tag>
class NamedId {
 public:
  using value_type = T;
  constexpr NamedId() = default;
  constexpr explicit NamedId(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedId&) const = default;

 private:
  T value_{};
};

using JobId = NamedId<uint64_t, struct JobIdTag>;
using VertexId = NamedId<int32_t, struct VertexIdTag>;
using NodeId = NamedId<int32_t, struct NodeIdTag>;
using SubtaskIndex = NamedId<int32_t, struct SubtaskIndexTag>;
using CheckpointId = NamedId<int64_t, struct CheckpointIdTag>;
using KeyGroup = NamedId<int32_t, struct KeyGroupTag>;

// Event and processing time are milliseconds since the epoch, as in Flink.
using Timestamp = int64_t;
inline constexpr Timestamp kNoTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr Timestamp kMinWatermark = std::numeric_limits<int64_t>::min();
inline constexpr Timestamp kMaxWatermark = std::numeric_limits<int64_t>::max();

}  // namespace brook

template <typename T, typename Tag>
struct std::hash<brook::NamedId<T, Tag>> {
  size_t operator()(const brook::NamedId<T, Tag>& id) const noexcept {
    return std::hash<T>{}(id.value());
  }
};
