#include "brook/runtime/state/lmdb_state_store.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "brook/runtime/state/state_encoding.h"

namespace brook {
namespace {

using state_internal::AsBytes;
using state_internal::AssignBytes;

constexpr std::byte kMetadataPrefix[LmdbStateStore::kPrefixBytes] = {
    std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}};

bool IsMetadata(std::span<const std::byte> key) {
  return key.size() >= 2 && LmdbStateStore::ReadU16(key.data()) == LmdbStateStore::kMetadataMarker;
}

}  // namespace

void LmdbStateStore::WriteStateId(std::byte* out, uint16_t id) {
  out[0] = static_cast<std::byte>(id >> 8);
  out[1] = static_cast<std::byte>(id & 0xFF);
}

void LmdbStateStore::WritePrefix(std::byte* out, int32_t key_group, uint16_t id) {
  WriteStateId(out, static_cast<uint16_t>(key_group));
  WriteStateId(out + 2, id);
}

uint16_t LmdbStateStore::ReadU16(const std::byte* in) {
  return static_cast<uint16_t>((static_cast<uint16_t>(in[0]) << 8) | static_cast<uint16_t>(in[1]));
}

LmdbStateStore::LmdbStateStore(const LmdbEnvironment::Options& options)
    : env_(std::make_shared<LmdbEnvironment>(options)) {
  LmdbCursor& cursor = env_->WriteCursor();
  for (cursor.Seek(kMetadataPrefix); cursor.HasPrefix(kMetadataPrefix); cursor.Next()) {
    if (cursor.value().size() != 2) {
      throw std::runtime_error("LMDB state in " + env_->directory() + ": corrupt state catalog");
    }
    const std::span<const std::byte> name_bytes = cursor.key().subspan(kPrefixBytes);
    const std::string name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
    const uint16_t id = ReadU16(cursor.value().data());
    if (names_.size() <= id) names_.resize(size_t{id} + 1);
    names_[id] = name;
    ids_[name] = id;
  }
  ttls_.resize(names_.size());
}

uint16_t LmdbStateStore::StateId(const std::string& name) {
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  if (names_.size() >= kMetadataMarker) {
    throw std::runtime_error("LMDB state in " + env_->directory() + ": too many states");
  }
  const auto id = static_cast<uint16_t>(names_.size());
  std::vector<std::byte> key(kMetadataPrefix, kMetadataPrefix + kPrefixBytes);
  const std::span<const std::byte> name_bytes = AsBytes(name);
  key.insert(key.end(), name_bytes.begin(), name_bytes.end());
  std::byte value[2];
  WriteStateId(value, id);
  env_->Put(key, value);
  names_.push_back(name);
  ttls_.resize(names_.size());
  ids_.emplace(name, id);
  return id;
}

void LmdbStateStore::SetTtl(uint16_t id, const StateTtlConfig& ttl) {
  if (ttls_.size() <= id) ttls_.resize(size_t{id} + 1);
  ttls_[id] = ttl;
}

void LmdbStateStore::CleanupSome(int budget, Timestamp processing_now, Timestamp watermark) {
  LmdbCursor& cursor = env_->WriteCursor();
  bool valid = cleanup_key_.empty() ? cursor.SeekFirst() : cursor.Seek(cleanup_key_);
  bool wrapped = false;
  for (int examined = 0; examined < budget; ++examined) {
    if (!valid || IsMetadata(cursor.key())) {
      if (wrapped) break;
      wrapped = true;
      valid = cursor.SeekFirst();
      if (!valid || IsMetadata(cursor.key())) break;
    }
    const std::span<const std::byte> key = cursor.key();
    const std::span<const std::byte> value = cursor.value();
    if (key.size() >= kPrefixBytes && value.size() >= state_internal::kTimestampBytes) {
      const uint16_t id = ReadU16(key.data() + 2);
      if (id < ttls_.size() && ttls_[id]) {
        const StateTtlConfig& ttl = *ttls_[id];
        const Timestamp now =
            ttl.time == StateTtlConfig::TimeCharacteristic::kEventTime ? watermark : processing_now;
        Timestamp last_access;
        std::memcpy(&last_access, value.data(), sizeof last_access);
        if (state_internal::IsExpired(last_access, ttl.ttl_ms, now)) cursor.DeleteCurrent();
      }
    }
    valid = cursor.Next();
  }
  if (valid && !IsMetadata(cursor.key())) {
    cleanup_key_.assign(cursor.key().begin(), cursor.key().end());
  } else {
    cleanup_key_.clear();
  }
  env_->MaybeCommit();
}

LmdbStateStore::~LmdbStateStore() {
  try {
    env_->Commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brook: %s\n", e.what());
  }
}

std::unique_ptr<LmdbStateSnapshot> LmdbStateStore::TakeSnapshot() {
  std::unique_ptr<LmdbReadTransaction> txn = env_->BeginRead();
  return std::unique_ptr<LmdbStateSnapshot>(new LmdbStateSnapshot(env_, std::move(txn), names_));
}

LmdbStateSnapshot::~LmdbStateSnapshot() = default;

void LmdbStateSnapshot::ForEachEntryImpl(const std::function<void(const StateEntry&)>& sink) {
  LmdbCursor& cursor = txn_->cursor();
  StateEntry entry;
  for (bool valid = cursor.SeekFirst(); valid; valid = cursor.Next()) {
    const std::span<const std::byte> key = cursor.key();
    if (IsMetadata(key)) break;  // the catalog sorts last
    if (key.size() < LmdbStateStore::kPrefixBytes) continue;
    const uint16_t id = LmdbStateStore::ReadU16(key.data() + 2);
    if (id >= names_.size() || names_[id].empty()) continue;  // not in the catalog: unnamed
    entry.key_group = LmdbStateStore::ReadU16(key.data());
    entry.state_name = names_[id];
    AssignBytes(entry.key, key.subspan(LmdbStateStore::kPrefixBytes));
    AssignBytes(entry.value, cursor.value());
    sink(entry);
  }
}

void LmdbStateStore::Restore(const StateEntry& entry) {
  const uint16_t id = StateId(entry.state_name);
  restore_key_.resize(kPrefixBytes);
  WritePrefix(restore_key_.data(), entry.key_group, id);
  const std::span<const std::byte> key = AsBytes(entry.key);
  restore_key_.insert(restore_key_.end(), key.begin(), key.end());
  env_->Put(restore_key_, AsBytes(entry.value));
}

}  // namespace brook
