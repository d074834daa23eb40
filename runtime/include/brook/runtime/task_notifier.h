// Wakes a parked task thread. A task parks when it has no input, no mail and no due timer;
// whoever gives it work (a channel receiving data, a mailbox receiving mail, a cancel) calls
// Notify(). Parking never spins: threads beyond the core count must sleep, not poll.
//
// Threading: Notify() from any thread; Wait*() only from the owning task thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace brook {

class TaskNotifier {
 public:
  TaskNotifier() = default;
  TaskNotifier(const TaskNotifier&) = delete;
  TaskNotifier& operator=(const TaskNotifier&) = delete;

  void Notify() {
    {
      std::lock_guard lock(mutex_);
      signaled_ = true;
    }
    cv_.notify_one();
  }

  // Returns once notified since the previous wait returned. A notification that arrived before
  // the call counts, so check-then-wait loses no wake-up.
  void Wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return signaled_; });
    signaled_ = false;
  }

  // As Wait(), but returns at `deadline` at the latest.
  template <typename Clock, typename Duration>
  void WaitUntil(std::chrono::time_point<Clock, Duration> deadline) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return signaled_; });
    signaled_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool signaled_ = false;  // guarded by mutex_
};

}  // namespace brook
