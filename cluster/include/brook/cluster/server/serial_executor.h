// SerialExecutor: one thread that runs posted actions one at a time, in order, and delayed
// actions when they are due. The job manager and the task manager keep all their state on
// one of these (like Flink's main-thread executor of an RPC endpoint), so network callbacks,
// REST handlers and timers never race: they post, and only this thread touches the state.
//
// Threading: Post/PostAfter/Call from any thread. Call() from the executor's own thread would
// deadlock and is refused (BROOK_CHECK). Life cycle: the thread starts in the constructor;
// Stop() (also the destructor) runs what is already posted and due, drops the delayed rest,
// and joins; posts after Stop() are dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <type_traits>

#include "brook/runtime/check.h"

namespace brook {

class SerialExecutor {
 public:
  using Action = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  explicit SerialExecutor(std::string name);
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void Post(Action action);
  void PostAfter(std::chrono::milliseconds delay, Action action);

  // Runs `fn` on the executor and waits for its result (or rethrows its exception).
  // REQUIRES: not on the executor's thread.
  template <typename Fn>
  auto Call(Fn fn) -> std::invoke_result_t<Fn> {
    BROOK_CHECK(!InExecutor(), "SerialExecutor::Call from its own thread would deadlock");
    using R = std::invoke_result_t<Fn>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> result = task->get_future();
    Post([task] { (*task)(); });
    return result.get();
  }

  bool InExecutor() const { return std::this_thread::get_id() == thread_.get_id(); }
  void Stop();

 private:
  void Loop();

  const std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Action> ready_;                      // guarded by mutex_
  std::multimap<Clock::time_point, Action> due_;  // guarded by mutex_
  bool stopping_ = false;                         // guarded by mutex_
  std::thread thread_;
};

}  // namespace brook
