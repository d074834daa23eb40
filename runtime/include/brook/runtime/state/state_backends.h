// The header user code and operators include for keyed state: both backends, the definitions of
// KeyedStateBackend<K>::Get*State (declared in keyed_state_backend.h; each creates the state of
// the backend's kind on first use of a name), and the factory MakeKeyedStateBackend.
//
// Example:
//   auto backend = MakeKeyedStateBackend<std::string>(config, "job-1/op-3/subtask-0", 128,
//                                                     KeyGroupRange::ForSubtask(0, 128, 4));
//   auto& clicks = backend->GetState(ValueStateDescriptor<int64_t>{"clicks"});
//   backend->SetCurrentKey(user_id);
//   clicks.update(clicks.valueOr(0) + 1);
#pragma once

#include <memory>
#include <string>

#include "brook/runtime/state/heap_state_backend.h"
#include "brook/runtime/state/keyed_state_backend.h"
#include "brook/runtime/state/lmdb_state_backend.h"

namespace brook {

namespace state_internal {
// Calls make(backend) with the backend as its concrete type.
template <typename K, typename Make>
auto WithConcreteBackend(KeyedStateBackend<K>& backend, Make&& make) {
  if (backend.kind() == StateBackendKind::kMemory) {
    return make(static_cast<HeapKeyedStateBackend<K>&>(backend));
  }
  BROOK_CHECK(backend.kind() == StateBackendKind::kLmdb, "unknown state backend kind");
  return make(static_cast<LmdbKeyedStateBackend<K>&>(backend));
}
}  // namespace state_internal

template <typename K>
template <typename V>
ValueState<V>& KeyedStateBackend<K>::GetState(const ValueStateDescriptor<V>& d) {
  return GetOrCreate<ValueState<V>>(d.name, [&] {
    return state_internal::WithConcreteBackend(
        *this, [&](auto& backend) { return backend.MakeValueState(d); });
  });
}

template <typename K>
template <typename V>
ListState<V>& KeyedStateBackend<K>::GetListState(const ListStateDescriptor<V>& d) {
  return GetOrCreate<ListState<V>>(d.name, [&] {
    return state_internal::WithConcreteBackend(
        *this, [&](auto& backend) { return backend.MakeListState(d); });
  });
}

template <typename K>
template <typename UK, typename UV>
MapState<UK, UV>& KeyedStateBackend<K>::GetMapState(const MapStateDescriptor<UK, UV>& d) {
  return GetOrCreate<MapState<UK, UV>>(d.name, [&] {
    return state_internal::WithConcreteBackend(
        *this, [&](auto& backend) { return backend.MakeMapState(d); });
  });
}

template <typename K>
template <typename V, typename F>
ReducingState<V>& KeyedStateBackend<K>::GetReducingState(const ReducingStateDescriptor<V, F>& d) {
  return GetOrCreate<ReducingState<V>>(d.name, [&] {
    return state_internal::WithConcreteBackend(
        *this, [&](auto& backend) { return backend.MakeReducingState(d); });
  });
}

template <typename K>
template <typename In, typename F>
AggregatingState<In, typename F::Acc, typename F::Out>& KeyedStateBackend<K>::GetAggregatingState(
    const AggregatingStateDescriptor<In, F>& d) {
  using S = AggregatingState<In, typename F::Acc, typename F::Out>;
  return GetOrCreate<S>(d.name, [&] {
    return state_internal::WithConcreteBackend(
        *this, [&](auto& backend) { return backend.MakeAggregatingState(d); });
  });
}

// The backend that `config` asks for. LMDB: the environment lives in
// <config.lmdb_directory>/<environment_name>/ (created if needed; its state is reused if it
// exists). Throws std::runtime_error if LMDB cannot open it.
template <typename K>
std::unique_ptr<KeyedStateBackend<K>> MakeKeyedStateBackend(const StateBackendConfig& config,
                                                            const std::string& environment_name,
                                                            int max_parallelism,
                                                            KeyGroupRange key_groups) {
  if (config.kind == StateBackendKind::kLmdb) {
    LmdbEnvironment::Options options;
    options.directory = config.lmdb_directory + "/" + environment_name;
    options.map_size = config.lmdb_map_size;
    return std::make_unique<LmdbKeyedStateBackend<K>>(options, max_parallelism, key_groups,
                                                      config.lmdb_cache_entries);
  }
  return std::make_unique<HeapKeyedStateBackend<K>>(max_parallelism, key_groups);
}

}  // namespace brook
