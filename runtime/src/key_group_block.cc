#include <span>

#include "brook/runtime/serde.h"
#include "brook/runtime/state/key_group_block.h"
#include "brook/runtime/state/keyed_state_backend.h"

namespace brook {

void KeyGroupBlock::Add(const StateEntry& e) {
  BufferWriter w(bytes);
  Serde<std::string>::Write(w, e.state_name);
  Serde<std::string>::Write(w, e.key);
  Serde<std::string>::Write(w, e.value);
  ++count;
}

void KeyGroupBlock::ForEachEntry(int32_t key_group, uint64_t count,
                                 std::span<const std::byte> bytes,
                                 const std::function<void(const StateEntry&)>& sink) {
  StateEntry entry;
  entry.key_group = key_group;
  BufferReader reader(bytes);
  for (uint64_t n = count; n > 0; --n) {
    Serde<std::string>::Read(reader, entry.state_name);
    Serde<std::string>::Read(reader, entry.key);
    Serde<std::string>::Read(reader, entry.value);
    sink(entry);
  }
  reader.ExpectEnd();
}

void KeyedStateView::ForEachKeyGroupImpl(KeyGroupBlock& block, const KeyGroupSink& sink) {
  bool open = false;
  ForEachEntryImpl([&](const StateEntry& e) {
    if (open && e.key_group != block.key_group) {
      sink(block);
      open = false;
    }
    if (!open) {
      block.Reset(e.key_group);
      open = true;
    }
    block.Add(e);
  });
  if (open) sink(block);
}

}  // namespace brook
