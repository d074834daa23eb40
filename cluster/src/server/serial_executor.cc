#include "brook/cluster/server/serial_executor.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace brook {

SerialExecutor::SerialExecutor(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Loop(); });
}

SerialExecutor::~SerialExecutor() { Stop(); }

void SerialExecutor::Post(Action action) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    ready_.push_back(std::move(action));
  }
  wake_.notify_one();
}

void SerialExecutor::PostAfter(std::chrono::milliseconds delay, Action action) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    due_.emplace(Clock::now() + delay, std::move(action));
  }
  wake_.notify_one();
}

void SerialExecutor::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    due_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable() && !InExecutor()) thread_.join();
}

void SerialExecutor::Loop() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto now = Clock::now();
    while (!due_.empty() && due_.begin()->first <= now) {
      ready_.push_back(std::move(due_.begin()->second));
      due_.erase(due_.begin());
    }
    if (!ready_.empty()) {
      Action action = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      try {
        action();
      } catch (const std::exception& e) {
        // An action that throws is a bug in it; the executor and its owner keep running.
        spdlog::error("{}: an action failed: {}", name_, e.what());
      }
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (due_.empty())
      wake_.wait(lock);
    else
      wake_.wait_until(lock, due_.begin()->first);
  }
}

}  // namespace brook
