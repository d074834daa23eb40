// Thrown inside a task when it was cancelled while blocked (on a full channel, say), to unwind
// the task thread. Never a failure: the task loop catches it and ends quietly.
#pragma once

#include <stdexcept>

namespace brook {

class TaskCancelled : public std::runtime_error {
 public:
  TaskCancelled() : std::runtime_error("task cancelled") {}
};

}  // namespace brook
