#include "brook/checkpoint/key_group_redistribution.h"

#include <algorithm>

namespace brook {

std::vector<KeyGroupTransfer> KeyGroupsToRestore(int new_subtask, int new_parallelism,
                                                 int old_parallelism, int max_parallelism) {
  const KeyGroupRange mine =
      KeyGroupRange::ForSubtask(new_subtask, max_parallelism, new_parallelism);
  std::vector<KeyGroupTransfer> transfers;
  if (mine.size() <= 0) return transfers;
  int first_owner = SubtaskForKeyGroup(KeyGroup(mine.first), max_parallelism, old_parallelism);
  int last_owner = SubtaskForKeyGroup(KeyGroup(mine.last), max_parallelism, old_parallelism);
  for (int old = first_owner; old <= last_owner; ++old) {
    KeyGroupRange theirs = KeyGroupRange::ForSubtask(old, max_parallelism, old_parallelism);
    KeyGroupRange overlap{std::max(mine.first, theirs.first), std::min(mine.last, theirs.last)};
    if (overlap.size() > 0) transfers.push_back({old, overlap});
  }
  return transfers;
}

}  // namespace brook
