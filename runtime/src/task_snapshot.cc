#include "brook/runtime/task_snapshot.h"

#include <span>
#include <tuple>

#include "brook/runtime/serde.h"

namespace brook {
namespace {

constexpr uint8_t kFormatVersion = 1;

using EntryRecord = std::tuple<int32_t, std::string, std::string, std::string>;
using OperatorRecord = std::tuple<std::string, std::vector<EntryRecord>, std::string>;
using SnapshotRecord =
    std::tuple<int64_t, int64_t, std::vector<OperatorRecord>, std::vector<std::vector<std::string>>>;

}  // namespace

std::vector<StateEntry> OperatorSnapshot::AllKeyedEntries() const {
  std::vector<StateEntry> all = keyed;
  if (keyed_view) keyed_view->ForEachEntry([&](const StateEntry& e) { all.push_back(e); });
  return all;
}

bool OperatorSnapshot::operator==(const OperatorSnapshot& o) const {
  if (operator_id != o.operator_id || operator_state != o.operator_state) return false;
  if (keyed.size() != o.keyed.size()) return false;
  for (size_t i = 0; i < keyed.size(); ++i) {
    const StateEntry &a = keyed[i], &b = o.keyed[i];
    if (a.key_group != b.key_group || a.state_name != b.state_name || a.key != b.key ||
        a.value != b.value)
      return false;
  }
  return true;
}

bool TaskSnapshot::operator==(const TaskSnapshot& o) const {
  return checkpoint_id == o.checkpoint_id && timestamp == o.timestamp && operators == o.operators &&
         channel_state == o.channel_state;
}

size_t TaskSnapshot::StateSize() const {
  size_t size = 0;
  for (const auto& op : operators) {
    size += op.operator_state.size();
    for (const auto& e : op.keyed) size += e.state_name.size() + e.key.size() + e.value.size() + 4;
    if (op.keyed_view) size += op.keyed_view->bytes();
  }
  for (const auto& channel : channel_state)
    for (const auto& record : channel) size += record.size();
  return size;
}

const OperatorSnapshot* TaskSnapshot::Find(std::string_view operator_id) const {
  for (const auto& op : operators)
    if (op.operator_id == operator_id) return &op;
  return nullptr;
}

std::string EncodeTaskSnapshot(const TaskSnapshot& snapshot) {
  SnapshotRecord record;
  std::get<0>(record) = snapshot.checkpoint_id.value();
  std::get<1>(record) = snapshot.timestamp;
  for (const auto& op : snapshot.operators) {
    std::vector<EntryRecord> entries;
    entries.reserve(op.keyed.size());
    for (const auto& e : op.keyed) entries.emplace_back(e.key_group, e.state_name, e.key, e.value);
    if (op.keyed_view)
      op.keyed_view->ForEachEntry([&](const StateEntry& e) {
        entries.emplace_back(e.key_group, e.state_name, e.key, e.value);
      });
    std::get<2>(record).emplace_back(op.operator_id, std::move(entries), op.operator_state);
  }
  std::get<3>(record) = snapshot.channel_state;
  std::vector<std::byte> bytes = Serialize(record);
  std::string out;
  out.reserve(bytes.size() + 1);
  out.push_back(char(kFormatVersion));
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return out;
}

TaskSnapshot DecodeTaskSnapshot(std::string_view bytes) {
  if (bytes.empty()) throw SerdeError("task snapshot: empty");
  if (uint8_t(bytes[0]) != kFormatVersion)
    throw SerdeError("task snapshot: unknown format version " + std::to_string(uint8_t(bytes[0])));
  auto record = Deserialize<SnapshotRecord>(std::span<const std::byte>(
      reinterpret_cast<const std::byte*>(bytes.data()) + 1, bytes.size() - 1));
  TaskSnapshot snapshot;
  snapshot.checkpoint_id = CheckpointId(std::get<0>(record));
  snapshot.timestamp = std::get<1>(record);
  for (auto& [id, entries, operator_state] : std::get<2>(record)) {
    OperatorSnapshot op;
    op.operator_id = std::move(id);
    op.operator_state = std::move(operator_state);
    op.keyed.reserve(entries.size());
    for (auto& [kg, name, key, value] : entries)
      op.keyed.push_back(StateEntry{kg, std::move(name), std::move(key), std::move(value)});
    snapshot.operators.push_back(std::move(op));
  }
  snapshot.channel_state = std::move(std::get<3>(record));
  return snapshot;
}

}  // namespace brook
