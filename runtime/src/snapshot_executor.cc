#include "brook/runtime/snapshot_executor.h"

#include <utility>

namespace brook {

SnapshotExecutor::SnapshotExecutor(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {}

SnapshotExecutor::~SnapshotExecutor() { Stop(); }

void SnapshotExecutor::Start() {
  std::lock_guard lock(mutex_);
  if (running_ || stopped_) return;
  running_ = true;
  for (int i = 0; i < num_threads_; ++i) threads_.emplace_back([this] { Work(); });
}

void SnapshotExecutor::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool SnapshotExecutor::Submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!running_ || stopped_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void SnapshotExecutor::Work() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job();
    } catch (...) {
      // A job reports its own failures; nothing to do with an escaped one.
    }
  }
}

}  // namespace brook
