// Async I/O (Flink's AsyncWaitOperator): enriches records with lookups (a database, a feature
// store, an RPC) without blocking the task thread. The user function starts a lookup and returns
// at once; whoever finishes it, on any thread, completes the ResultFuture it was handed:
//
//   fn(const In& value, ResultFuture<Out> future)        // starts the lookup, returns at once
//   future.Complete({out, ...})  or  future.CompleteExceptionally("why")   // any thread, once
//
// Up to `capacity` lookups are in flight per subtask, so their latencies overlap. Results carry
// the timestamp of their input record. Output modes, as in Flink:
// - ordered: results leave in input order; a slow lookup holds back the ones behind it.
// - unordered: results leave as they complete, but never across a watermark. Watermarks cut the
//   queue into segments, and a segment is emitted only after the one before it and its closing
//   watermark:
//
//     front                                                   back
//     [ r1 r2 r3 | W10 ][ r4 r5 | W20 ][ r6 r7 ...
//       emit as they      wait for r1..r3 and W10 to leave
//       complete
//
// A lookup not completed within `timeout` yields timeout_fn(value), or fails the task when there
// is no timeout_fn; CompleteExceptionally fails the task. Either way the failure names the
// operator. A second completion of the same future is ignored.
//
// Threading model: the operator and its queue are confined to the task thread. A completion on
// another thread only posts its outcome to the task's mailbox (MailboxExecutor::Execute); the
// mail applies it between batches. Timeouts are processing-time timers, also on the task thread.
// When the queue is full, or at end of input, the operator waits in MailboxExecutor::Yield(),
// which runs mail and timers meanwhile, so completions and timeouts make progress.
//
// Life cycle: Open -> ProcessBatch/ProcessWatermark -> Finish (waits until every lookup has been
// emitted) -> Close. Close detaches the operator from its mailbox: a lookup completing later
// (the client still holds the future after a failure or cancellation) is dropped.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "brook/operators/user_function.h"
#include "brook/runtime/check.h"
#include "brook/runtime/mailbox.h"
#include "brook/runtime/stream_operator.h"
#include "brook/runtime/timer_service.h"

namespace brook {

enum class AsyncOutputMode { kOrdered, kUnordered };

namespace detail {

// What a lookup produced: its results, or the error it failed with.
template <typename Out>
struct AsyncOutcome {
  std::vector<Out> results;
  std::optional<std::string> error;
};

// The way back from completions (any thread) to one operator instance. Shared by the operator,
// its timers and every pending completion, because those may outlive the operator and even its
// task (a lookup client holds its futures as long as it likes). Detach() in Close() guarantees
// that afterwards nothing posts to the mailbox or runs operator code.
//
// Threading: Post() from any thread; Detach() and attached() on the task thread.
class AsyncMailboxLink {
 public:
  explicit AsyncMailboxLink(MailboxExecutor* mailbox) : mailbox_(mailbox) {}

  // Runs `mail` on the task thread, unless the operator has closed. The lock is held across
  // Execute() so that Detach() waits for a post in progress: after Detach() returns, no thread
  // touches the mailbox through this link, so the task may destroy it.
  bool Post(TaskMailbox::Mail mail) {
    std::lock_guard lock(mutex_);
    return mailbox_ != nullptr && mailbox_->Execute(std::move(mail));
  }
  void Detach() {
    std::lock_guard lock(mutex_);
    mailbox_ = nullptr;
  }
  bool attached() const {
    std::lock_guard lock(mutex_);
    return mailbox_ != nullptr;
  }

 private:
  mutable std::mutex mutex_;
  MailboxExecutor* mailbox_;  // guarded by mutex_; null once detached
};

// The state behind one lookup's ResultFuture, shared by all copies of the future (any thread)
// and the operator's queue entry (task thread).
template <typename Out>
struct AsyncCompletion {
  // Set by the first completion or by the timeout, whichever wins; the loser does nothing.
  std::atomic<bool> completed{false};
  std::shared_ptr<AsyncMailboxLink> link;  // constant after construction
  // Hands the outcome to the operator's entry. Task thread only, and only while attached.
  std::function<void(AsyncOutcome<Out>&&)> deliver;  // constant after construction
};

}  // namespace detail

// The handle a user's async function completes. Copyable; copies share one completion, and
// completing is const (like std::shared_future) so a callback may capture it by value.
// Threading: any thread. Lifetime: may outlive the operator; completing it then does nothing.
template <typename Out>
class ResultFuture {
 public:
  explicit ResultFuture(std::shared_ptr<detail::AsyncCompletion<Out>> state)
      : state_(std::move(state)) {}

  // The lookup produced `results` (zero or more records). Ignored after the first completion.
  void Complete(std::vector<Out> results) const {
    Settle(detail::AsyncOutcome<Out>{std::move(results), std::nullopt});
  }
  // The lookup failed: the task fails with `error`. Ignored after the first completion.
  void CompleteExceptionally(std::string error) const {
    Settle(detail::AsyncOutcome<Out>{{}, std::move(error)});
  }

 private:
  void Settle(detail::AsyncOutcome<Out> outcome) const {
    if (state_->completed.exchange(true, std::memory_order_acq_rel)) return;
    state_->link->Post([state = state_, outcome = std::move(outcome)]() mutable {
      if (state->link->attached()) state->deliver(std::move(outcome));
    });
  }

  std::shared_ptr<detail::AsyncCompletion<Out>> state_;
};

// REQUIRES: capacity > 0. A timeout <= 0 means lookups never time out.
template <typename In, typename Out, typename F>
class AsyncWaitOperator final : public OneInputOperator<In>, WithOutput<Out> {
 public:
  using TimeoutFn = std::function<std::vector<Out>(const In&)>;

  AsyncWaitOperator(F fn, AsyncOutputMode mode, std::chrono::milliseconds timeout,
                    size_t capacity, TimeoutFn timeout_fn = {})
      : fn_(std::move(fn)),
        mode_(mode),
        timeout_ms_(timeout.count()),
        capacity_(capacity),
        timeout_fn_(std::move(timeout_fn)) {
    BROOK_CHECK(capacity_ > 0, "an async operator needs a capacity of at least 1");
  }
  ~AsyncWaitOperator() override {
    if (link_) link_->Detach();
  }

  void Open(RuntimeContext& context) override {
    OneInputOperator<In>::Open(context);
    BROOK_CHECK(context.mailbox != nullptr && context.timers != nullptr,
                "an async operator needs its task's mailbox and timers");
    this->BindOutput(this->main_output_base());
    collector_.SetOutput(this->output());
    link_ = std::make_shared<detail::AsyncMailboxLink>(context.mailbox);
    OpenFunction(fn_, context);
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    for (auto& record : batch.records) {
      // Full: wait for a slot. Yield() runs the mail and timers that complete entries.
      while (records_in_queue_ >= capacity_) this->context().mailbox->Yield();
      Entry& entry = Enqueue(record.timestamp);
      entry.input.emplace(std::move(record.value));
      ++records_in_queue_;
      auto completion = std::make_shared<detail::AsyncCompletion<Out>>();
      completion->link = link_;
      completion->deliver = [this, e = &entry](detail::AsyncOutcome<Out>&& outcome) {
        AttributeFailures(*this, [&] { OnOutcome(*e, std::move(outcome)); });
      };
      entry.completion = completion;
      if (timeout_ms_ > 0) ScheduleTimeout(entry);
      ResultFuture<Out> future(std::move(completion));
      fn_(std::as_const(*entry.input), future);
    }
  }

  void ProcessWatermark(Watermark watermark) override {
    if (queue_.empty()) {
      collector_.PushBuffered();
      this->EmitWatermarkToAll(watermark);
      return;
    }
    // Behind pending records: leaves once every record before it has.
    Entry& entry = Enqueue(kNoTimestamp);
    entry.watermark = watermark;
    entry.done = true;
    ++watermarks_enqueued_;
  }

  void Finish() override {
    while (!queue_.empty()) this->context().mailbox->Yield();
    collector_.PushBuffered();
  }

  void Close() override {
    if (link_) link_->Detach();
    queue_.clear();
    ready_.clear();
    records_in_queue_ = 0;
    CloseFunction(fn_);
  }

 private:
  // One queued input record or watermark. List nodes keep their address while others come and
  // go, so completions and ready_ refer to entries by pointer.
  struct Entry {
    std::optional<In> input;             // records: the value, kept for timeout_fn
    std::optional<Watermark> watermark;  // watermarks
    Timestamp timestamp = kNoTimestamp;
    Timestamp deadline = 0;
    uint64_t segment = 0;  // watermarks enqueued before it (a watermark closes its segment)
    bool done = false;     // `results` holds the outcome; always true for a watermark
    std::vector<Out> results;
    std::shared_ptr<detail::AsyncCompletion<Out>> completion;  // records only
    typename std::list<Entry>::iterator self;
  };

  Entry& Enqueue(Timestamp timestamp) {
    Entry& entry = queue_.emplace_back();
    entry.self = std::prev(queue_.end());
    entry.timestamp = timestamp;
    entry.segment = watermarks_enqueued_;
    return entry;
  }

  // Timers cannot be cancelled, so entries whose deadline falls in the same millisecond share
  // one timer: the timer queue stays bounded by the timeout in ms, not by the record rate.
  // Deadlines never decrease, so the entries due are a prefix of the records in the queue.
  void ScheduleTimeout(Entry& entry) {
    Timestamp deadline = std::max(ProcessingTimeService::Now() + timeout_ms_, last_deadline_);
    entry.deadline = deadline;
    if (deadline == last_deadline_) return;
    last_deadline_ = deadline;
    this->context().timers->RegisterTimer(deadline, [link = link_, this](Timestamp time) {
      if (link->attached()) AttributeFailures(*this, [&] { TimeOutDue(time); });
    });
  }

  void TimeOutDue(Timestamp now) {
    std::vector<Entry*> expired;
    for (Entry& entry : queue_) {
      if (entry.watermark || entry.done) continue;
      if (entry.deadline > now) break;
      // Claim it; a completion that won the race is already on its way through the mailbox.
      if (!entry.completion->completed.exchange(true, std::memory_order_acq_rel))
        expired.push_back(&entry);
    }
    for (Entry* entry : expired) {
      if (!timeout_fn_)
        throw std::runtime_error("async lookup timed out after " + std::to_string(timeout_ms_) +
                                 " ms");
      entry->results = timeout_fn_(*entry->input);
      MarkDone(*entry);
    }
    if (!expired.empty()) EmitReady();
  }

  void OnOutcome(Entry& entry, detail::AsyncOutcome<Out>&& outcome) {
    if (outcome.error) throw std::runtime_error("async lookup failed: " + *outcome.error);
    entry.results = std::move(outcome.results);
    MarkDone(entry);
    EmitReady();
  }

  void MarkDone(Entry& entry) {
    entry.done = true;
    entry.completion.reset();  // the futures keep their own reference
    if (mode_ == AsyncOutputMode::kUnordered && entry.segment == front_segment_)
      ready_.push_back(&entry);
  }

  // Emits whatever may leave now. Emitting pushes downstream, where a chained operator may
  // Yield() and so run our mail or timers: those only mark entries done, and this loop (which
  // re-reads the queue after every emission) emits them.
  void EmitReady() {
    if (emitting_) return;
    emitting_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{emitting_};
    while (mode_ == AsyncOutputMode::kOrdered ? EmitNextOrdered() : EmitNextUnordered()) {
    }
    collector_.PushBuffered();
  }

  // Each emits one entry if one may leave, and says whether it did.
  bool EmitNextOrdered() {
    if (queue_.empty() || !queue_.front().done) return false;
    PopAndEmit(queue_.begin());
    return true;
  }
  bool EmitNextUnordered() {
    if (!ready_.empty()) {
      Entry* entry = ready_.front();
      ready_.pop_front();
      PopAndEmit(entry->self);
      return true;
    }
    if (queue_.empty() || !queue_.front().watermark) return false;
    // The front segment is empty: its watermark leaves and the next segment becomes the front.
    PopAndEmit(queue_.begin());
    ++front_segment_;
    for (Entry& entry : queue_) {
      if (entry.watermark) break;
      if (entry.done) ready_.push_back(&entry);
    }
    return true;
  }

  // Removes the entry first, then emits: the queue is consistent for whatever emission runs.
  void PopAndEmit(typename std::list<Entry>::iterator it) {
    std::optional<Watermark> watermark = it->watermark;
    std::vector<Out> results = std::move(it->results);
    Timestamp timestamp = it->timestamp;
    if (!watermark) --records_in_queue_;
    queue_.erase(it);
    if (watermark) {
      collector_.PushBuffered();
      this->EmitWatermarkToAll(*watermark);
      return;
    }
    for (Out& value : results) collector_.collectWithTimestamp(std::move(value), timestamp);
  }

  // Constant after construction.
  F fn_;
  const AsyncOutputMode mode_;
  const int64_t timeout_ms_;
  const size_t capacity_;
  const TimeoutFn timeout_fn_;

  // Task thread only.
  std::shared_ptr<detail::AsyncMailboxLink> link_;  // shared: see AsyncMailboxLink
  std::list<Entry> queue_;                           // input order
  std::deque<Entry*> ready_;  // unordered: done records of the front segment, completion order
  size_t records_in_queue_ = 0;
  uint64_t watermarks_enqueued_ = 0;
  uint64_t front_segment_ = 0;  // watermarks that have left the queue
  Timestamp last_deadline_ = 0;
  bool emitting_ = false;
  Collector<Out> collector_;
};

}  // namespace brook
