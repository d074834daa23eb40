#include "brook/cluster/server/slot_pool.h"

#include <algorithm>

namespace brook::server {

int SlotPool::SlotsNeeded(std::span<const int> vertex_parallelisms) {
  int needed = 0;
  for (int parallelism : vertex_parallelisms) needed = std::max(needed, parallelism);
  return needed;
}

Result<void> SlotPool::AddTaskManager(const std::string& task_manager_id, int slots) {
  if (slots < 1) {
    return MakeError(ServerErrc::kInvalidArgument, "task manager " + task_manager_id + " offers " +
                                                       std::to_string(slots) +
                                                       " slots; it must offer at least 1");
  }
  if (task_managers_.contains(task_manager_id)) {
    return MakeError(ServerErrc::kAlreadyExists,
                     "task manager " + task_manager_id + " is already registered");
  }
  TaskManager& task_manager = task_managers_[task_manager_id];
  task_manager.holder.resize(size_t(slots));
  task_manager.free = slots;
  total_slots_ += slots;
  free_slots_ += slots;
  return Ok();
}

std::vector<std::string> SlotPool::RemoveTaskManager(const std::string& task_manager_id) {
  auto it = task_managers_.find(task_manager_id);
  if (it == task_managers_.end()) return {};
  std::vector<std::string> affected_jobs;
  for (const std::string& job_id : it->second.holder) {
    if (!job_id.empty()) affected_jobs.push_back(job_id);
  }
  std::sort(affected_jobs.begin(), affected_jobs.end());
  affected_jobs.erase(std::unique(affected_jobs.begin(), affected_jobs.end()), affected_jobs.end());
  for (const std::string& job_id : affected_jobs) {
    std::vector<SlotId>& slots = jobs_[job_id];
    std::erase_if(slots,
                  [&](const SlotId& slot) { return slot.task_manager_id == task_manager_id; });
    if (slots.empty()) jobs_.erase(job_id);
  }
  total_slots_ -= int(it->second.holder.size());
  free_slots_ -= it->second.free;
  task_managers_.erase(it);
  return affected_jobs;
}

Result<std::vector<SlotId>> SlotPool::Allocate(const std::string& job_id, int slots_needed) {
  if (job_id.empty()) {  // an empty holder marks a free slot
    return MakeError(ServerErrc::kInvalidArgument, "a job id must not be empty");
  }
  if (slots_needed < 1) {
    return MakeError(ServerErrc::kInvalidArgument, "job " + job_id + " asks for " +
                                                       std::to_string(slots_needed) +
                                                       " slots; it must ask for at least 1");
  }
  if (auto held = jobs_.find(job_id); held != jobs_.end()) {
    return MakeError(
        ServerErrc::kAlreadyExists,
        "job " + job_id + " already holds " + std::to_string(held->second.size()) + " slots");
  }
  if (slots_needed > free_slots_) {
    return MakeError(ServerErrc::kResourceExhausted,
                     "job " + job_id + " needs " + std::to_string(slots_needed) +
                         " slots, but only " + std::to_string(free_slots_) + " of " +
                         std::to_string(total_slots_) + " are free on " +
                         std::to_string(task_managers_.size()) + " task managers");
  }
  std::vector<SlotId> slots;
  slots.reserve(size_t(slots_needed));
  for (int n = 0; n < slots_needed; ++n) {
    // The most free slots; the map's order makes the smallest id win ties.
    auto emptiest = std::max_element(
        task_managers_.begin(), task_managers_.end(),
        [](const auto& a, const auto& b) { return a.second.free < b.second.free; });
    TaskManager& task_manager = emptiest->second;
    auto slot = std::find(task_manager.holder.begin(), task_manager.holder.end(), std::string());
    *slot = job_id;
    --task_manager.free;
    --free_slots_;
    slots.push_back(SlotId{emptiest->first, int(slot - task_manager.holder.begin())});
  }
  jobs_[job_id] = slots;
  return slots;
}

int SlotPool::Release(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return 0;
  const int released = int(it->second.size());
  for (const SlotId& slot : it->second) {
    TaskManager& task_manager = task_managers_.at(slot.task_manager_id);
    task_manager.holder[size_t(slot.index)].clear();
    ++task_manager.free;
    ++free_slots_;
  }
  jobs_.erase(it);
  return released;
}

std::vector<SlotId> SlotPool::SlotsOf(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? std::vector<SlotId>{} : it->second;
}

bool SlotPool::HasTaskManager(const std::string& task_manager_id) const {
  return task_managers_.contains(task_manager_id);
}

std::vector<TaskManagerSlots> SlotPool::TaskManagers() const {
  std::vector<TaskManagerSlots> result;
  result.reserve(task_managers_.size());
  for (const auto& [id, task_manager] : task_managers_) {
    result.push_back(TaskManagerSlots{id, int(task_manager.holder.size()), task_manager.free});
  }
  return result;
}

}  // namespace brook::server
