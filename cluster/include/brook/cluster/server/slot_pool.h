// SlotPool: the job manager's view of the task managers' slots, and which job holds which.
// Pure bookkeeping, no I/O: the job manager adds a task manager when it registers, removes it
// when its heartbeats stop or it leaves, allocates when it schedules a job and releases when
// the job ends or restarts.
//
// Slot sharing as Flink does by default: one slot holds subtask i of every vertex of a job, so
// a job needs max(vertex parallelism) slots (SlotsNeeded) and subtask i of every vertex runs in
// the i-th slot Allocate returns. Slots are spread evenly over task managers, as Flink's
// cluster.evenly-spread-out-slots: each slot is taken from the task manager with the most free
// slots (ties: the smallest id), so a job of parallelism 4 on two idle 4-slot task managers
// gets two slots on each, alternating.
//
// Threading: not thread-safe; the job manager calls it under its own lock.
// Life cycle: task managers and jobs come and go in any order; a removed task manager's slots
// vanish from the jobs that held them (RemoveTaskManager names those jobs, which must restart).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "brook/cluster/server/result.h"

namespace brook::server {

struct SlotId {
  std::string task_manager_id;
  int index = 0;  // 0 .. slots of the task manager - 1
  auto operator<=>(const SlotId&) const = default;
};

struct TaskManagerSlots {
  std::string task_manager_id;
  int total = 0;
  int free = 0;
};

class SlotPool {
 public:
  // Slots a job with these vertex parallelisms needs under slot sharing: the largest one.
  static int SlotsNeeded(std::span<const int> vertex_parallelisms);

  // Offers `slots` free slots of a new task manager. kInvalidArgument for slots < 1,
  // kAlreadyExists for an id already registered (nothing changes either way).
  Result<void> AddTaskManager(const std::string& task_manager_id, int slots);
  // Forgets the task manager and its slots. Returns the jobs that held slots on it (sorted,
  // each once); they keep their other slots until Release. Unknown ids: nothing, empty result.
  std::vector<std::string> RemoveTaskManager(const std::string& task_manager_id);

  // Takes `slots_needed` free slots for the job, spread evenly (see above); slot i runs
  // subtask i. All or nothing: kResourceExhausted (saying how many are free) if there are too
  // few, kInvalidArgument for slots_needed < 1 or an empty job id, kAlreadyExists if the job holds
  // slots already (Release them first: a restart allocates afresh).
  Result<std::vector<SlotId>> Allocate(const std::string& job_id, int slots_needed);
  // Frees every slot the job holds; returns how many. Unknown jobs: 0.
  int Release(const std::string& job_id);

  // The slots the job holds, in the order Allocate returned them (minus removed ones).
  std::vector<SlotId> SlotsOf(const std::string& job_id) const;
  bool HasTaskManager(const std::string& task_manager_id) const;
  // Per task manager, ordered by id (REST /taskmanagers).
  std::vector<TaskManagerSlots> TaskManagers() const;
  int total_slots() const { return total_slots_; }
  int free_slots() const { return free_slots_; }
  int task_manager_count() const { return int(task_managers_.size()); }

 private:
  struct TaskManager {
    std::vector<std::string> holder;  // per slot: the job holding it, empty if free
    int free = 0;
  };

  std::map<std::string, TaskManager> task_managers_;
  std::map<std::string, std::vector<SlotId>> jobs_;  // job id -> its slots, in subtask order
  int total_slots_ = 0;
  int free_slots_ = 0;
};

}  // namespace brook::server
