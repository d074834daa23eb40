// Rescaling keyed state: when a job restores with another parallelism, each new subtask takes
// the key groups it now owns from the old subtasks that held them. Key groups never split, so
// the plan is a list of contiguous range pieces per new subtask.
#pragma once

#include <vector>

#include "brook/runtime/key_groups.h"

namespace brook {

struct KeyGroupTransfer {
  int old_subtask = 0;
  KeyGroupRange range;  // the key groups moving from old_subtask to the new subtask
  bool operator==(const KeyGroupTransfer&) const = default;
};

// For new subtask `new_subtask` of `new_parallelism`: which old subtasks' key groups it restores.
std::vector<KeyGroupTransfer> KeyGroupsToRestore(int new_subtask, int new_parallelism,
                                                 int old_parallelism, int max_parallelism);

}  // namespace brook
