#include "brook/cluster/server/task_group.h"

#include <cstdio>

#include "brook/runtime/stream_operator.h"

namespace brook {

TaskGroup::TaskGroup(std::vector<std::unique_ptr<StreamTask>> tasks, Listener listener)
    : tasks_(std::move(tasks)), listener_(std::move(listener)) {}

TaskGroup::~TaskGroup() {
  Cancel();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
}

void TaskGroup::Start() {
  running_ = tasks_.size();
  threads_.reserve(tasks_.size());
  for (size_t i = 0; i < tasks_.size(); ++i) threads_.emplace_back([this, i] { RunTask(i); });
}

void TaskGroup::Cancel() {
  cancelled_ = true;
  for (auto& task : tasks_) task->Cancel();
}

void TaskGroup::RunTask(size_t index) {
  StreamTask& task = *tasks_[index];
  SubtaskEnd end = SubtaskEnd::kFinished;
  std::string error;
  try {
    task.Run();
    if (cancelled_) end = SubtaskEnd::kCanceled;
  } catch (const OperatorFailure& e) {
    end = cancelled_ ? SubtaskEnd::kCanceled : SubtaskEnd::kFailed;
    error = e.what();
  } catch (const std::exception& e) {
    end = cancelled_ ? SubtaskEnd::kCanceled : SubtaskEnd::kFailed;
    error = std::string("task '") + task.name() + "' failed: " + e.what();
  }
  // What the task printed (print sinks) reaches the log before its end is reported.
  std::fflush(nullptr);
  --running_;
  listener_(index, end, error);
}

}  // namespace brook
