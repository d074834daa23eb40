// LmdbMapState: the LMDB MapState. One LMDB entry per user entry, keyed
// [prefix][key][namespace][Serde<UK>(user key)], so point operations are one LMDB access and
// entries(), isEmpty() and clear() scan the (key, namespace) prefix with a cursor. With TTL every
// user entry has its own timestamp; expired ones met by a scan are deleted.
//
// Threading: the task thread only. Part of lmdb_state_backend.h; include state_backends.h.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "brook/runtime/state/lmdb_states.h"

namespace brook::state_internal {

template <typename K, typename UK, typename UV>
class LmdbMapState final : public MapState<UK, UV>, LmdbStateBase<K> {
 public:
  using LmdbStateBase<K>::LmdbStateBase;

  std::optional<UV> get(const UK& key) override {
    std::optional<Bytes> payload = this->ReadLive(UserKey(key), true);
    return payload ? std::optional<UV>(Deserialize<UV>(*payload)) : std::nullopt;
  }
  void put(const UK& key, const UV& value) override { this->WriteValue(UserKey(key), value); }
  void remove(const UK& key) override { this->env_.Delete(UserKey(key)); }
  bool contains(const UK& key) override { return this->ReadLive(UserKey(key), true).has_value(); }

  // Live entries in user-key byte order. Does not refresh TTL.
  std::vector<std::pair<UK, UV>> entries() override {
    std::vector<std::pair<UK, UV>> out;
    Scan([&](Bytes user_key, Bytes payload) {
      out.emplace_back(Deserialize<UK>(user_key), Deserialize<UV>(payload));
      return true;
    });
    return out;
  }

  bool isEmpty() override {
    bool empty = true;
    Scan([&](Bytes, Bytes) {
      empty = false;
      return false;
    });
    return empty;
  }

  void clear() override {
    const Bytes prefix = this->Key(this->namespace_);
    LmdbCursor& cursor = this->env_.WriteCursor();
    for (cursor.Seek(prefix); cursor.HasPrefix(prefix); cursor.Next()) cursor.DeleteCurrent();
    this->env_.MaybeCommit();
  }

 private:
  // The LMDB key of user key `key` under the current key and namespace.
  Bytes UserKey(const UK& key) {
    this->Key(this->namespace_);
    std::vector<std::byte>& buffer = this->backend_.key_buffer();
    BufferWriter writer(buffer);
    Serde<UK>::Write(writer, key);
    return buffer;
  }

  // Calls visit(user key bytes, payload) for the live entries of the current key and namespace
  // until it returns false; deletes expired entries it passes.
  template <typename Visit>
  void Scan(Visit&& visit) {
    const Bytes prefix = this->Key(this->namespace_);
    const Timestamp now = this->ttl_.enabled() ? this->Now() : 0;
    LmdbCursor& cursor = this->env_.WriteCursor();
    for (cursor.Seek(prefix); cursor.HasPrefix(prefix); cursor.Next()) {
      Bytes payload = cursor.value();
      if (this->ttl_.enabled()) {
        std::optional<Bytes> live = this->LivePayload(payload, now);
        if (!live) {
          cursor.DeleteCurrent();
          continue;
        }
        payload = *live;
      }
      if (!visit(cursor.key().subspan(prefix.size()), payload)) break;
    }
    this->env_.MaybeCommit();
  }
};

}  // namespace brook::state_internal
