// TaskGroup: the subtasks of one job attempt deployed in one task manager, each running on its
// own thread. It reports how each subtask ended and lets its owner cancel them all. Deciding
// what a failure means (cancel the rest, restart the job) is the job manager's business.
//
// Threading: the listener runs on the subtask's own thread, once per subtask, after Run()
// returned; it must not block for long and must not destroy the group. Cancel() from any
// thread. Life cycle: constructed with wired tasks -> Start() -> tasks end (naturally or by
// Cancel) -> destroyed; the destructor cancels what still runs and joins every thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "brook/runtime/stream_task.h"

namespace brook {

enum class SubtaskEnd { kFinished, kFailed, kCanceled };

class TaskGroup {
 public:
  // index: position in `tasks`; error: the failure's message (kFailed only).
  using Listener = std::function<void(size_t index, SubtaskEnd end, const std::string& error)>;

  TaskGroup(std::vector<std::unique_ptr<StreamTask>> tasks, Listener listener);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void Start();
  void Cancel();
  size_t size() const { return tasks_.size(); }
  size_t running() const { return running_.load(); }
  StreamTask& task(size_t index) { return *tasks_[index]; }

 private:
  void RunTask(size_t index);

  std::vector<std::unique_ptr<StreamTask>> tasks_;
  Listener listener_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> running_{0};
  std::atomic<bool> cancelled_{false};
};

}  // namespace brook
