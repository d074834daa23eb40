// StreamTask runs one subtask: a chain of operators fed by one input (an input gate or a
// source), on one thread, through a mailbox loop:
//
//   loop: run mail -> fire due timers -> process one input step (a batch or an event)
//         nothing to do? flush writers, park until notified, a timer is due or the source wakes
//
// Life cycle: created -> wired (AddOperator/AddOutput/AddWriter/SetInput) -> Run() on the task
// thread -> returns when the input ended (after Finish() of every operator and end-of-partition
// on every writer), or throws the failure (an OperatorFailure names the operator), or returns
// quietly after Cancel().
//
// Threading: wiring before Run(); Run() on the task thread; Cancel(), mailbox() and metrics()
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "brook/runtime/local_channel.h"
#include "brook/runtime/mailbox.h"
#include "brook/runtime/metrics.h"
#include "brook/runtime/record_writer.h"
#include "brook/runtime/runtime_context.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/task_input.h"
#include "brook/runtime/task_notifier.h"
#include "brook/runtime/timer_service.h"

namespace brook {

struct StreamTaskOptions {
  // The longest a partially filled batch waits in a writer while the task is busy. An idle
  // task flushes before it parks, so this bounds latency only under load.
  std::chrono::milliseconds buffer_timeout{100};
};

class StreamTask final : private MailboxExecutor {
 public:
  StreamTask(std::string task_name, StreamTaskOptions options = {});
  StreamTask(const StreamTask&) = delete;
  StreamTask& operator=(const StreamTask&) = delete;
  ~StreamTask();

  // Wiring, before Run(). Operators in chain order (head first); the task owns everything.
  StreamOperatorBase* AddOperator(std::unique_ptr<StreamOperatorBase> op, RuntimeContext context);
  OutputBase* AddOutput(std::unique_ptr<OutputBase> output);
  RecordWriterBase* AddWriter(std::unique_ptr<RecordWriterBase> writer,
                              std::vector<ChannelBase*> channels);
  void SetInput(std::unique_ptr<TaskInput> input, std::vector<ChannelBase*> input_channels);

  // Runs the task to its end on the calling thread. Throws on failure.
  void Run();
  // Stops the task as soon as possible; wakes it wherever it is blocked. Idempotent.
  void Cancel();

  const std::string& name() const { return name_; }
  TaskNotifier& notifier() { return notifier_; }
  TaskMailbox& mailbox() { return mailbox_; }
  ProcessingTimeService& timers() { return timers_; }
  TaskIoMetrics& metrics() { return metrics_; }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  bool Execute(TaskMailbox::Mail mail) override { return mailbox_.Put(std::move(mail)); }
  void Yield() override;
  void RunLoop();
  void FireDueTimers();
  void Park();
  void FlushWriters();
  void FinishChain();
  void CloseChain() noexcept;

  const std::string name_;
  const StreamTaskOptions options_;
  TaskNotifier notifier_;
  TaskMailbox mailbox_{notifier_};
  ProcessingTimeService timers_;
  TaskIoMetrics metrics_;

  std::deque<RuntimeContext> contexts_;  // stable addresses for the operators
  std::vector<std::unique_ptr<StreamOperatorBase>> operators_;
  std::vector<std::unique_ptr<OutputBase>> outputs_;
  std::vector<std::unique_ptr<RecordWriterBase>> writers_;
  std::unique_ptr<TaskInput> input_;
  std::vector<ChannelBase*> channels_;  // input and output, cancelled together

  std::atomic<bool> cancelled_{false};
  size_t opened_ = 0;  // operators opened so far (tail first), to close exactly those
};

}  // namespace brook
