// The LMDB implementations of the keyed states. Value, reducing and aggregating states work on
// their write-back cache (lmdb_state_cache.h). List states (and map states, lmdb_map_state.h)
// work over LmdbKeyedStateBackend's key and value scratch buffers (lmdb_state_backend.h): every
// access builds the entry key in place from the current key's bytes (serialized once per key),
// reads or writes one LMDB entry, and decodes with Serde; only Serde itself may allocate.
//
// Values: [8-byte last-access timestamp if TTL][payload]. A list's payload is its elements'
// encodings back to back, so add() and merging lists append bytes without decoding. A map has
// one LMDB entry per user key (the user key ends the LMDB key), so entries() is a cursor scan of
// the (key, namespace) prefix.
//
// Threading: the task thread only. Part of lmdb_state_backend.h; include state_backends.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/keyed_state.h"
#include "brook/runtime/state/lmdb_environment.h"
#include "brook/runtime/state/lmdb_state_cache.h"
#include "brook/runtime/state/state_descriptor.h"
#include "brook/runtime/state/state_encoding.h"

namespace brook {

template <typename K>
class LmdbKeyedStateBackend;

namespace state_internal {

// What every LMDB list and map state shares: its id, its TTL, and TTL-aware reads and writes.
template <typename K>
class LmdbStateBase {
 public:
  LmdbStateBase(LmdbKeyedStateBackend<K>& backend, const std::string& name,
                const StateTtlConfig& ttl)
      : backend_(backend), env_(backend.env()), id_(backend.StateId(name, ttl)), ttl_(ttl) {}

 protected:
  // The key of the current key's entry in `ns`, in the backend's key buffer (valid until the
  // next Key() of any state).
  Bytes Key(int64_t ns) { return backend_.StateKey(id_, ns); }

  // The payload at `key`, or nullopt when absent or expired (then deleted). A read under
  // kOnReadAndWrite rewrites the entry with a fresh timestamp. Valid until the next write.
  std::optional<Bytes> ReadLive(Bytes key, bool is_read) {
    std::optional<Bytes> raw = env_.Get(key);
    if (!raw || !ttl_.enabled()) return raw;
    const Timestamp now = Now();
    std::optional<Bytes> payload = LivePayload(*raw, now);
    if (!payload) {
      env_.Delete(key);
      return std::nullopt;
    }
    if (is_read && RefreshesOnRead(ttl_)) {
      std::vector<std::byte>& buffer = backend_.value_buffer();
      buffer.clear();
      AppendTimestamp(buffer, now);
      buffer.insert(buffer.end(), payload->begin(), payload->end());
      env_.Put(key, buffer);
      return Bytes(buffer).subspan(kTimestampBytes);
    }
    return payload;
  }

  // The payload of a raw TTL'd value, or nullopt if expired. REQUIRES: ttl_.enabled().
  std::optional<Bytes> LivePayload(Bytes raw, Timestamp now) const {
    BufferReader reader(raw);
    if (IsExpired(ReadTimestamp(reader), ttl_.ttl_ms, now)) return std::nullopt;
    return raw.subspan(kTimestampBytes);
  }

  // Writes `key` with the payload that `fill(BufferWriter&)` encodes, stamped with the time.
  template <typename Fill>
  void Write(Bytes key, Fill&& fill) {
    std::vector<std::byte>& buffer = backend_.value_buffer();
    buffer.clear();
    const Timestamp now = ttl_.enabled() ? Now() : 0;
    if (ttl_.enabled()) AppendTimestamp(buffer, now);
    {
      BufferWriter writer(buffer);
      fill(writer);
    }
    env_.Put(key, buffer);
    if (ttl_.enabled()) backend_.CleanupAfterTtlWrite(ttl_, now);
  }

  template <typename T>
  void WriteValue(Bytes key, const T& value) {
    Write(key, [&](BufferWriter& w) { Serde<T>::Write(w, value); });
  }

  Timestamp Now() const { return backend_.TtlNow(ttl_); }

  LmdbKeyedStateBackend<K>& backend_;
  LmdbEnvironment& env_;
  const uint16_t id_;
  const StateTtlConfig ttl_;
};

// The single-value states: each keeps its entries in a write-back cache (lmdb_state_cache.h).
template <typename K, typename V>
class LmdbValueState final : public ValueState<V> {
 public:
  LmdbValueState(LmdbKeyedStateBackend<K>& backend, const std::string& name,
                 const StateTtlConfig& ttl)
      : cache_(backend.template MakeCache<V>(name, ttl)) {}

  std::optional<V> value() override {
    const V* v = cache_->Find(this->namespace_, /*is_read=*/true);
    return v ? std::optional<V>(*v) : std::nullopt;
  }
  void update(const V& value) override { cache_->Put(this->namespace_, value); }
  void clear() override { cache_->Erase(this->namespace_); }

 private:
  std::unique_ptr<LmdbStateCache<K, V>> cache_;
};

template <typename K, typename V, typename F>
class LmdbReducingState final : public ReducingState<V> {
 public:
  LmdbReducingState(LmdbKeyedStateBackend<K>& backend, const std::string& name,
                    const StateTtlConfig& ttl, F reduce)
      : cache_(backend.template MakeCache<V>(name, ttl)), reduce_(std::move(reduce)) {}

  bool add(const V& value) override { return Combine(this->namespace_, value); }
  std::optional<V> get() override {
    const V* v = cache_->Find(this->namespace_, /*is_read=*/true);
    return v ? std::optional<V>(*v) : std::nullopt;
  }
  void clear() override { cache_->Erase(this->namespace_); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    std::optional<V> merged;
    for (int64_t ns : sources) {
      if (ns == target) continue;
      if (std::optional<V> v = cache_->Take(ns)) {
        merged = merged ? reduce_(std::as_const(*merged), *v) : std::move(*v);
      }
    }
    if (merged) Combine(target, *merged);
  }

 private:
  bool Combine(int64_t ns, const V& value) {
    auto [current, created] = cache_->Upsert(ns, [&] { return value; });
    if (!created) current = reduce_(std::as_const(current), value);
    return created;
  }

  std::unique_ptr<LmdbStateCache<K, V>> cache_;
  F reduce_;
};

template <typename K, typename In, typename F>
class LmdbAggregatingState final : public AggregatingState<In, typename F::Acc, typename F::Out> {
  using Acc = typename F::Acc;

 public:
  LmdbAggregatingState(LmdbKeyedStateBackend<K>& backend, const std::string& name,
                       const StateTtlConfig& ttl, F aggregate)
      : cache_(backend.template MakeCache<Acc>(name, ttl)), aggregate_(std::move(aggregate)) {}

  bool add(const In& value) override {
    auto [acc, created] =
        cache_->Upsert(this->namespace_, [&] { return aggregate_.CreateAccumulator(); });
    aggregate_.Add(value, acc);
    return created;
  }
  std::optional<typename F::Out> get() override {
    const Acc* acc = cache_->Find(this->namespace_, /*is_read=*/true);
    return acc ? std::optional<typename F::Out>(aggregate_.GetResult(*acc)) : std::nullopt;
  }
  std::optional<Acc> accumulator() override {
    const Acc* acc = cache_->Find(this->namespace_, /*is_read=*/true);
    return acc ? std::optional<Acc>(*acc) : std::nullopt;
  }
  void clear() override { cache_->Erase(this->namespace_); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    std::optional<Acc> merged;
    for (int64_t ns : sources) {
      if (ns == target) continue;
      if (std::optional<Acc> acc = cache_->Take(ns)) {
        if (merged) {
          aggregate_.Merge(*acc, *merged);
        } else {
          merged = std::move(acc);
        }
      }
    }
    if (!merged) return;
    auto [current, created] = cache_->Upsert(target, [&] { return *merged; });
    if (!created) aggregate_.Merge(*merged, current);
  }

 private:
  std::unique_ptr<LmdbStateCache<K, Acc>> cache_;
  F aggregate_;
};

template <typename K, typename V>
class LmdbListState final : public ListState<V>, LmdbStateBase<K> {
 public:
  using LmdbStateBase<K>::LmdbStateBase;

  void add(const V& value) override {
    Append(this->namespace_, [&](BufferWriter& w) { Serde<V>::Write(w, value); });
  }
  void addAll(const std::vector<V>& values) override {
    if (values.empty()) return;
    Append(this->namespace_, [&](BufferWriter& w) {
      for (const V& v : values) Serde<V>::Write(w, v);
    });
  }
  std::vector<V> get() override {
    std::vector<V> out;
    std::optional<Bytes> payload = this->ReadLive(this->Key(this->namespace_), true);
    if (!payload) return out;
    BufferReader reader(*payload);
    while (!reader.AtEnd()) out.push_back(Deserialize<V>(reader));
    return out;
  }
  void update(const std::vector<V>& values) override {
    if (values.empty()) {
      clear();
      return;
    }
    this->Write(this->Key(this->namespace_), [&](BufferWriter& w) {
      for (const V& v : values) Serde<V>::Write(w, v);
    });
  }
  void clear() override { this->env_.Delete(this->Key(this->namespace_)); }

  void MergeNamespaces(int64_t target, const std::vector<int64_t>& sources) override {
    merged_.clear();
    for (int64_t ns : sources) {
      if (ns == target) continue;
      const Bytes key = this->Key(ns);
      if (std::optional<Bytes> payload = this->ReadLive(key, false)) {
        merged_.insert(merged_.end(), payload->begin(), payload->end());
        this->env_.Delete(key);
      }
    }
    if (merged_.empty()) return;
    Append(target, [&](BufferWriter& w) { w.WriteBytes(merged_.data(), merged_.size()); });
  }

 private:
  // Read-modify-write: the old payload's bytes, then what `fill` encodes.
  template <typename Fill>
  void Append(int64_t ns, Fill&& fill) {
    const Bytes key = this->Key(ns);
    std::optional<Bytes> payload = this->ReadLive(key, false);
    this->Write(key, [&](BufferWriter& w) {
      if (payload) w.WriteBytes(payload->data(), payload->size());
      fill(w);
    });
  }

  std::vector<std::byte> merged_;
};

}  // namespace state_internal
}  // namespace brook
