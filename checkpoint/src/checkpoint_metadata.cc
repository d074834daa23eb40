#include "brook/checkpoint/checkpoint_metadata.h"

#include <span>
#include <tuple>

#include "brook/runtime/serde.h"

namespace brook {
namespace {

constexpr uint8_t kFormatVersion = 1;
using TaskRecord =
    std::tuple<std::string, std::string, int32_t, std::string, uint64_t, int64_t, int64_t, int64_t>;
using Record = std::tuple<std::string, int64_t, int64_t, int64_t, uint8_t, std::vector<TaskRecord>>;

}  // namespace

uint64_t CheckpointMetadata::TotalSize() const {
  uint64_t total = 0;
  for (const auto& t : tasks) total += t.state_size;
  return total;
}

std::string CheckpointMetadata::Encode() const {
  Record record{job_id, checkpoint_id.value(), trigger_time, completion_time, uint8_t(kind), {}};
  for (const auto& t : tasks)
    std::get<5>(record).emplace_back(t.task_name, t.vertex, t.subtask, t.state_handle, t.state_size,
                                     t.sync_ns, t.async_ns, t.alignment_ns);
  std::vector<std::byte> bytes = Serialize(record);
  std::string out(1, char(kFormatVersion));
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return out;
}

CheckpointMetadata CheckpointMetadata::Decode(std::string_view bytes) {
  if (bytes.empty() || uint8_t(bytes[0]) != kFormatVersion)
    throw SerdeError("checkpoint metadata: missing or unknown format version");
  auto record = Deserialize<Record>(std::span<const std::byte>(
      reinterpret_cast<const std::byte*>(bytes.data()) + 1, bytes.size() - 1));
  CheckpointMetadata m;
  m.job_id = std::move(std::get<0>(record));
  m.checkpoint_id = CheckpointId(std::get<1>(record));
  m.trigger_time = std::get<2>(record);
  m.completion_time = std::get<3>(record);
  if (std::get<4>(record) > uint8_t(kLastCheckpointKind))
    throw SerdeError("checkpoint metadata: unknown checkpoint kind");
  m.kind = CheckpointKind(std::get<4>(record));
  for (auto& [name, vertex, subtask, handle, size, sync, async, align] : std::get<5>(record))
    m.tasks.push_back({std::move(name), std::move(vertex), subtask, std::move(handle), size, sync,
                       async, align});
  return m;
}

}  // namespace brook
