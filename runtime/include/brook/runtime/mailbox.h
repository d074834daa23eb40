// The mailbox of a task: actions that other threads ask the task thread to run (trigger a
// checkpoint, notify completion, cancel). Running them on the task thread is what lets operator
// code go without locks: records, timers and mail are all handled by one thread, between batches.
//
// Life cycle: open -> closed. Put() after Close() is refused (returns false).
// Threading: Put() and Close() from any thread; HasMail()/RunAll() on the task thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "brook/runtime/task_notifier.h"

namespace brook {

class TaskMailbox {
 public:
  using Mail = std::function<void()>;

  explicit TaskMailbox(TaskNotifier& notifier) : notifier_(notifier) {}
  TaskMailbox(const TaskMailbox&) = delete;
  TaskMailbox& operator=(const TaskMailbox&) = delete;

  bool Put(Mail mail) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      queue_.push_back(std::move(mail));
      pending_.store(queue_.size(), std::memory_order_release);
    }
    notifier_.Notify();
    return true;
  }

  // Cheap enough to call between every batch: one relaxed load.
  bool HasMail() const { return pending_.load(std::memory_order_acquire) != 0; }

  // Runs every mail present now, in order. Mail put while running waits for the next call.
  void RunAll() {
    std::deque<Mail> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(queue_);
      pending_.store(0, std::memory_order_release);
    }
    for (auto& mail : batch) mail();
  }

  // Refuses further mail and drops what was not run.
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    queue_.clear();
    pending_.store(0, std::memory_order_release);
  }

 private:
  TaskNotifier& notifier_;
  std::mutex mutex_;
  std::deque<Mail> queue_;  // guarded by mutex_
  bool closed_ = false;     // guarded by mutex_
  std::atomic<size_t> pending_{0};
};

// What operators see of their task's mailbox: a way to run code on the task thread from any
// thread (an async I/O completion, say), and to wait for such code without blocking the task's
// other duties (timers keep firing).
class MailboxExecutor {
 public:
  virtual ~MailboxExecutor() = default;
  // Any thread. Returns false if the task has ended and will run no more mail.
  virtual bool Execute(TaskMailbox::Mail mail) = 0;
  // Task thread only: blocks until mail arrives or a processing-time timer is due, and runs
  // them. Throws TaskCancelled if the task is cancelled meanwhile.
  virtual void Yield() = 0;
};

}  // namespace brook
