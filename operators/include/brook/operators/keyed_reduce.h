// Keyed reduce: keeps one running value per key and emits it after every record, as Flink's
// KeyedStream.reduce does. The state is held per key in a hash map owned by the subtask (the
// fastest keyed state there is); the subtask only sees keys of the key groups it owns.
// Checkpoints take the map as keyed entries, one per key with its key group, so a restore at
// another parallelism hands every key to the subtask that now owns it. Key and value types
// need a Serde for that; without one, the job runs but a checkpoint of it fails clearly.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <utility>

#include <span>
#include <stdexcept>

#include "brook/operators/user_function.h"
#include "brook/runtime/key_groups.h"
#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/serde.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename K, typename T, typename KeySelector, typename F>
class KeyedReduceOperator final : public OneInputOperator<T>, WithOutput<T> {
 public:
  KeyedReduceOperator(KeySelector key_selector, F fn)
      : key_selector_(std::move(key_selector)), fn_(std::move(fn)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<T>::Open(context);
    this->BindOutput(this->main_output_base());
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<T>& batch) override {
    for (auto& r : batch.records) {
      auto [it, inserted] = state_.try_emplace(key_selector_(r.value), r.value);
      if (!inserted) it->second = fn_(std::as_const(it->second), std::as_const(r.value));
      r.value = it->second;
    }
    this->output()->Push(batch);
  }

  void Close() override { CloseFunction(fn_); }

  size_t num_keys() const { return state_.size(); }

  void SnapshotState(SnapshotContext& context) override {
    if constexpr (Serializable<K> && Serializable<T>) {
      const int max_parallelism = this->context().max_parallelism;
      for (const auto& [key, value] : state_) {
        const auto key_bytes = Serialize(key);
        const auto value_bytes = Serialize(value);
        context.AddKeyedEntry(
            StateEntry{KeyGroupFor(key, max_parallelism).value(), kStateName,
                       std::string(reinterpret_cast<const char*>(key_bytes.data()), key_bytes.size()),
                       std::string(reinterpret_cast<const char*>(value_bytes.data()), value_bytes.size())});
      }
    } else {
      throw std::invalid_argument("keyed reduce '" + this->context().operator_name +
                                  "' cannot be checkpointed: its key or value type has no Serde");
    }
  }

  void InitializeState(InitializationContext& context) override {
    if constexpr (Serializable<K> && Serializable<T>) {
      context.ForEachKeyedEntry([&](const StateEntry& entry) {
        if (entry.state_name != kStateName) return;
        state_.insert_or_assign(Deserialize<K>(std::as_bytes(std::span(entry.key))),
                                Deserialize<T>(std::as_bytes(std::span(entry.value))));
      });
    }
  }

 private:
  static constexpr const char* kStateName = "reduce";
  struct Hash {
    using is_avalanching = void;  // KeyHasher mixes its bits: the flat map need not re-mix
    size_t operator()(const K& key) const { return KeyHasher<K>{}(key); }
  };
  KeySelector key_selector_;
  F fn_;
  // Open addressing: one probe in the common case, where std::unordered_map chases nodes.
  boost::unordered_flat_map<K, T, Hash> state_;
};

}  // namespace brook
