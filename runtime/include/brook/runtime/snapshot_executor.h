// SnapshotExecutor: the threads that run the asynchronous part of checkpoints (writing task
// snapshots to storage and acknowledging them), off the task threads so processing goes on
// meanwhile. One per task manager (or MiniCluster), shared by its tasks; a few threads suffice,
// as the work is I/O.
//
// Life cycle: constructed -> Start() -> Submit()* -> Stop() (runs what was submitted, then joins;
// idempotent; the destructor stops). Submit() before Start() or after Stop() returns false.
// Threading: every method from any thread; jobs run on the executor's threads, in no order.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace brook {

class SnapshotExecutor {
 public:
  using Job = std::function<void()>;

  explicit SnapshotExecutor(int num_threads = 2);
  SnapshotExecutor(const SnapshotExecutor&) = delete;
  SnapshotExecutor& operator=(const SnapshotExecutor&) = delete;
  ~SnapshotExecutor();

  void Start();
  void Stop();
  // Jobs must not throw (they report failures themselves); one that does is dropped silently.
  bool Submit(Job job);

 private:
  void Work();

  const int num_threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mutex_
  bool running_ = false;   // guarded by mutex_
  bool stopped_ = false;   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace brook
