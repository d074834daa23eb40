// The byte encodings shared by both keyed state backends: the namespace in keys, the TTL
// timestamp in values, and the TTL expiry rule. Both backends must agree on these so that a
// StateEntry (keyed_state_backend.h) snapshotted from one restores into the other.
//
// Internal to the state backends; user code has no reason to include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brook/runtime/ids.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/state/state_descriptor.h"

namespace brook::state_internal {

inline constexpr size_t kNamespaceBytes = 8;
inline constexpr size_t kTimestampBytes = 8;

// Big-endian with the sign bit flipped: unsigned byte order equals numeric order, so LMDB keeps
// the namespaces (window ends, say) of one key sorted.
inline void AppendNamespace(std::vector<std::byte>& out, int64_t ns) {
  uint64_t u = static_cast<uint64_t>(ns) ^ (uint64_t{1} << 63);
  std::byte bytes[kNamespaceBytes];
  for (size_t i = 0; i < kNamespaceBytes; ++i) {
    bytes[i] = static_cast<std::byte>(u >> (8 * (kNamespaceBytes - 1 - i)));
  }
  out.insert(out.end(), bytes, bytes + kNamespaceBytes);
}

inline int64_t ReadNamespace(BufferReader& reader) {
  std::span<const std::byte> bytes = reader.ReadSpan(kNamespaceBytes);
  uint64_t u = 0;
  for (std::byte b : bytes) u = (u << 8) | static_cast<uint8_t>(b);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

// The last-access timestamp of a TTL'd value (Flink stores the same, so a restored state may
// change its TTL length). Little-endian like every fixed-size Serde value.
inline void AppendTimestamp(std::vector<std::byte>& out, Timestamp ts) {
  std::byte bytes[kTimestampBytes];
  std::memcpy(bytes, &ts, kTimestampBytes);
  out.insert(out.end(), bytes, bytes + kTimestampBytes);
}

inline Timestamp ReadTimestamp(BufferReader& reader) { return reader.Read<Timestamp>(); }

// True when an entry last accessed at `last_access` has outlived `ttl_ms` at `now`, as in Flink
// (expired once last_access + ttl <= now). Computed without overflow: the event-time clock starts
// at kMinWatermark and ends at kMaxWatermark.
inline bool IsExpired(Timestamp last_access, int64_t ttl_ms, Timestamp now) {
  if (now < last_access) return false;
  return static_cast<uint64_t>(now) - static_cast<uint64_t>(last_access) >=
         static_cast<uint64_t>(ttl_ms);
}

inline bool RefreshesOnRead(const StateTtlConfig& ttl) {
  return ttl.enabled() && ttl.update_type == StateTtlConfig::UpdateType::kOnReadAndWrite;
}

inline std::span<const std::byte> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline void AssignBytes(std::string& out, std::span<const std::byte> bytes) {
  out.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Entries to examine per TTL'd write during incremental cleanup. More than one, so cleanup
// outpaces the growth of a state that inserts one entry per write (dedup).
inline constexpr int kCleanupEntriesPerWrite = 4;

}  // namespace brook::state_internal
