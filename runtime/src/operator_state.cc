#include "brook/runtime/state/operator_state.h"

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "brook/runtime/check.h"
#include "brook/runtime/serde.h"

namespace brook {
namespace {

// One state in a snapshot: name, OperatorStateKind, encoded elements.
using SnapshotRecord = std::tuple<std::string, uint8_t, std::vector<std::string>>;
using SnapshotRecords = std::vector<SnapshotRecord>;

std::string Encode(const SnapshotRecords& records) {
  return state_internal::EncodeElement(records);
}

SnapshotRecords Decode(std::string_view bytes) {
  if (bytes.empty()) return {};
  SnapshotRecords records = Deserialize<SnapshotRecords>(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  for (const SnapshotRecord& record : records) {
    if (std::get<1>(record) > static_cast<uint8_t>(OperatorStateKind::kBroadcast)) {
      throw SerdeError("operator state snapshot: unknown state kind " +
                       std::to_string(std::get<1>(record)));
    }
  }
  return records;
}

}  // namespace

std::string OperatorStateStore::Snapshot() const {
  SnapshotRecords records;
  records.reserve(states_.size() + pending_.size());
  for (const auto& [name, slot] : states_) {
    std::vector<std::string> elements;
    slot.state->SnapshotElements(elements);
    records.emplace_back(name, static_cast<uint8_t>(slot.kind), std::move(elements));
  }
  for (const auto& [name, raw] : pending_) {
    records.emplace_back(name, static_cast<uint8_t>(raw.kind), raw.elements);
  }
  return Encode(records);
}

void OperatorStateStore::Restore(std::string_view bytes) {
  for (auto& [name, kind, elements] : Decode(bytes)) {
    if (auto it = states_.find(name); it != states_.end()) {
      it->second.state->RestoreElements(elements);
      continue;
    }
    RawState& raw = pending_[name];
    raw.kind = static_cast<OperatorStateKind>(kind);
    raw.elements.insert(raw.elements.end(), std::make_move_iterator(elements.begin()),
                        std::make_move_iterator(elements.end()));
  }
}

std::string OperatorStateStore::Redistribute(const std::vector<std::string>& old_snapshots,
                                             int new_subtask, int new_parallelism) {
  BROOK_CHECK(new_parallelism > 0 && new_subtask >= 0 && new_subtask < new_parallelism,
              "new_subtask must be in [0, new_parallelism)");
  struct Merged {
    OperatorStateKind kind;
    std::vector<std::string> elements;
    bool has_broadcast_copy = false;
  };
  std::map<std::string, Merged> merged;  // ordered: deterministic output
  for (const std::string& snapshot : old_snapshots) {
    for (auto& [name, kind_byte, elements] : Decode(snapshot)) {
      const auto kind = static_cast<OperatorStateKind>(kind_byte);
      auto [it, inserted] = merged.try_emplace(name, Merged{kind, {}});
      Merged& m = it->second;
      if (kind == OperatorStateKind::kBroadcast) {
        // Every old subtask holds the same map: one copy is the whole state.
        if (!m.has_broadcast_copy) m.elements = std::move(elements);
        m.has_broadcast_copy = true;
        continue;
      }
      m.elements.insert(m.elements.end(), std::make_move_iterator(elements.begin()),
                        std::make_move_iterator(elements.end()));
    }
  }
  SnapshotRecords records;
  for (auto& [name, m] : merged) {
    std::vector<std::string> mine;
    if (m.kind == OperatorStateKind::kSplitList) {
      for (size_t j = static_cast<size_t>(new_subtask); j < m.elements.size();
           j += static_cast<size_t>(new_parallelism)) {
        mine.push_back(std::move(m.elements[j]));
      }
    } else {
      mine = std::move(m.elements);
    }
    records.emplace_back(name, static_cast<uint8_t>(m.kind), std::move(mine));
  }
  return Encode(records);
}

}  // namespace brook
