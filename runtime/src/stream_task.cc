#include "brook/runtime/stream_task.h"

#include <algorithm>
#include <cxxabi.h>
#include <utility>

#include "brook/runtime/check.h"
#include "brook/runtime/type_info.h"

namespace brook {

std::string Demangle(const char* mangled_name) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status);
  std::string result = status == 0 && demangled ? demangled : mangled_name;
  std::free(demangled);
  return result;
}

namespace {
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

StreamTask::StreamTask(std::string task_name, StreamTaskOptions options)
    : name_(std::move(task_name)), options_(options) {}

StreamTask::~StreamTask() = default;

StreamOperatorBase* StreamTask::AddOperator(std::unique_ptr<StreamOperatorBase> op,
                                            RuntimeContext context) {
  context.timers = &timers_;
  context.mailbox = this;
  contexts_.push_back(std::move(context));
  operators_.push_back(std::move(op));
  return operators_.back().get();
}

OutputBase* StreamTask::AddOutput(std::unique_ptr<OutputBase> output) {
  outputs_.push_back(std::move(output));
  return outputs_.back().get();
}

RecordWriterBase* StreamTask::AddWriter(std::unique_ptr<RecordWriterBase> writer,
                                        std::vector<ChannelBase*> channels) {
  channels_.insert(channels_.end(), channels.begin(), channels.end());
  writers_.push_back(std::move(writer));
  return writers_.back().get();
}

void StreamTask::SetInput(std::unique_ptr<TaskInput> input,
                          std::vector<ChannelBase*> input_channels) {
  for (auto* c : input_channels) c->SetConsumerNotifier(&notifier_);
  channels_.insert(channels_.end(), input_channels.begin(), input_channels.end());
  input_ = std::move(input);
}

void StreamTask::Run() {
  BROOK_CHECK(input_ != nullptr, "a task needs an input before it runs");
  try {
    // Open downstream operators first, so each operator's outputs are ready when it opens.
    for (size_t i = operators_.size(); i-- > 0;) {
      auto& op = *operators_[i];
      AttributeFailures(op, [&] { op.Open(contexts_[i]); });
      ++opened_;
    }
    RunLoop();
    if (!cancelled()) {
      FinishChain();
      FlushWriters();
      for (auto& w : writers_) w->BroadcastEvent(EndOfPartition{});
    }
  } catch (const TaskCancelled&) {
    // Cancelled while blocked: not a failure.
  } catch (...) {
    CloseChain();
    mailbox_.Close();
    throw;
  }
  CloseChain();
  mailbox_.Close();
}

void StreamTask::RunLoop() {
  auto last_flush = std::chrono::steady_clock::now();
  int64_t active_since = SteadyNowNs();
  while (!cancelled()) {
    if (mailbox_.HasMail()) mailbox_.RunAll();
    FireDueTimers();
    switch (input_->ProcessNext()) {
      case TaskInput::Status::kMoreAvailable:
        if (!writers_.empty()) {
          auto now = std::chrono::steady_clock::now();
          if (now - last_flush >= options_.buffer_timeout) {
            FlushWriters();
            last_flush = now;
          }
        }
        continue;
      case TaskInput::Status::kEndOfInput:
        metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
        return;
      case TaskInput::Status::kNothingAvailable:
        FlushWriters();
        last_flush = std::chrono::steady_clock::now();
        metrics_.busy_ns->Inc(SteadyNowNs() - active_since);
        int64_t park_start = SteadyNowNs();
        Park();
        active_since = SteadyNowNs();
        metrics_.idle_ns->Inc(active_since - park_start);
        break;
    }
  }
}

void StreamTask::FireDueTimers() {
  if (auto deadline = timers_.NextDeadline(); deadline) {
    Timestamp now = ProcessingTimeService::Now();
    if (*deadline <= now) timers_.FireDue(now);
  }
}

void StreamTask::Yield() {
  while (true) {
    if (cancelled()) throw TaskCancelled();
    if (mailbox_.HasMail()) {
      mailbox_.RunAll();
      return;
    }
    if (auto deadline = timers_.NextDeadline(); deadline && *deadline <= ProcessingTimeService::Now()) {
      timers_.FireDue(ProcessingTimeService::Now());
      return;
    }
    auto deadline = timers_.NextDeadline();
    if (deadline)
      notifier_.WaitUntil(std::chrono::system_clock::time_point(std::chrono::milliseconds(*deadline)));
    else
      notifier_.Wait();
  }
}

void StreamTask::Park() {
  std::optional<Timestamp> deadline = timers_.NextDeadline();
  if (auto wake = input_->WakeAt()) deadline = deadline ? std::min(*deadline, *wake) : *wake;
  if (!deadline) {
    notifier_.Wait();
    return;
  }
  auto until = std::chrono::system_clock::time_point(std::chrono::milliseconds(*deadline));
  if (until > std::chrono::system_clock::now()) notifier_.WaitUntil(until);
}

void StreamTask::FlushWriters() {
  for (auto& w : writers_) w->AsOutput().Flush();
}

void StreamTask::FinishChain() {
  // Head first: finishing an operator may emit records that its successors must still see.
  for (size_t i = 0; i < operators_.size(); ++i) {
    auto& op = *operators_[i];
    AttributeFailures(op, [&] { op.Finish(); });
  }
}

void StreamTask::CloseChain() noexcept {
  for (size_t i = operators_.size() - opened_; i < operators_.size(); ++i) {
    try {
      operators_[i]->Close();
    } catch (...) {
      // Close only releases resources; a failure here must not hide the task's outcome.
    }
  }
  opened_ = 0;
}

void StreamTask::Cancel() {
  if (cancelled_.exchange(true)) return;
  for (auto* c : channels_) c->Cancel();
  notifier_.Notify();
}

}  // namespace brook
