// Keyed reduce: keeps one running value per key and emits it after every record, as Flink's
// KeyedStream.reduce does. The state is held per key in a hash map owned by the subtask; the
// subtask only sees keys of the key groups it owns.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <utility>

#include "brook/operators/user_function.h"
#include "brook/runtime/key_groups.h"
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

 private:
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
