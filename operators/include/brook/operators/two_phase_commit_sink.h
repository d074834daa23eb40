// TwoPhaseCommitSink<T, Txn>: the base of exactly-once sinks (Flink's TwoPhaseCommitSinkFunction).
// Records go into the current transaction; at each checkpoint barrier the transaction is
// pre-committed (made durable, nothing visible yet) and a new one begins; when the coordinator
// reports the checkpoint complete, the transactions pre-committed up to it are committed (made
// visible). Pending transactions are operator state, so after a failure the restored subtask
// commits those of the checkpoint it restores from (that checkpoint completed, so their records
// are part of the consistent state) and aborts the transaction that was open at the snapshot.
//
//   records -> [current txn] --barrier n--> PreCommit -> pending{n} --complete(n)--> Commit
//                                                                   restore from n --> RecoverAndCommit
//
// A subclass implements the transaction: BeginTransaction, Write, PreCommit, Commit, Abort.
// Commit must be idempotent (it may run again for a transaction committed just before a crash,
// and after a rescale another subtask may recover it); after PreCommit it must not fail for
// reasons other than the environment. An aborted checkpoint leaves its transaction pending: the
// next completed checkpoint commits it. At the end of a bounded input everything is committed.
//
// Txn needs a brook::Serde (it is kept in split list operator state, "2pc-pending" and
// "2pc-open").
//
// Threading: the task thread. Life cycle: Open -> InitializeState (recovers, begins the first
// transaction) -> records and checkpoints -> Finish (commits all) -> Close (aborts the open
// transaction unless finished).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "brook/runtime/operator_state_registry.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename T, typename Txn>
class TwoPhaseCommitSink : public OneInputOperator<T> {
 public:
  void InitializeState(InitializationContext& context) override {
    pending_state_ = &context.operator_state().GetListState<std::pair<int64_t, Txn>>(kPendingState);
    open_state_ = &context.operator_state().GetListState<Txn>(kOpenState);
    if (context.is_restored()) {
      for (const auto& [checkpoint, txn] : pending_state_->get()) RecoverAndCommit(txn);
      for (const Txn& txn : open_state_->get()) RecoverAndAbort(txn);
      pending_state_->clear();
      open_state_->clear();
    }
    current_ = BeginTransaction();
  }

  void ProcessBatch(RecordBatch<T>& batch) override {
    if (!current_) current_ = BeginTransaction();  // run without a task (a harness)
    Write(*current_, batch);
  }

  void SnapshotState(SnapshotContext& context) override {
    BROOK_CHECK(current_ && pending_state_, "a two-phase-commit sink snapshots after InitializeState");
    PreCommit(*current_);
    pending_.emplace(context.checkpoint_id().value(), std::move(*current_));
    current_ = BeginTransaction();
    std::vector<std::pair<int64_t, Txn>> pending(pending_.begin(), pending_.end());
    pending_state_->update(pending);
    open_state_->update({*current_});
  }

  void NotifyCheckpointComplete(CheckpointId id) override {
    auto end = pending_.upper_bound(id.value());
    for (auto it = pending_.begin(); it != end; ++it) Commit(it->second);
    pending_.erase(pending_.begin(), end);
  }

  // End of a bounded input: no checkpoint follows, so commit what there is.
  void Finish() override {
    if (!current_) return;
    PreCommit(*current_);
    for (auto& [id, txn] : pending_) Commit(txn);
    pending_.clear();
    Commit(*current_);
    current_.reset();
  }

  // After a failure or cancellation: the open transaction will never commit. Pending ones may
  // still be recovered from a checkpoint, so they are left alone.
  void Close() override {
    if (current_) {
      try {
        Abort(*current_);
      } catch (...) {
        // Close only releases; the next attempt aborts it again on recovery.
      }
      current_.reset();
    }
  }

  size_t num_pending() const { return pending_.size(); }

 protected:
  virtual Txn BeginTransaction() = 0;
  virtual void Write(Txn& txn, const RecordBatch<T>& batch) = 0;
  virtual void PreCommit(Txn& txn) = 0;
  virtual void Commit(const Txn& txn) = 0;
  virtual void Abort(const Txn& txn) = 0;
  virtual void RecoverAndCommit(const Txn& txn) { Commit(txn); }
  virtual void RecoverAndAbort(const Txn& txn) { Abort(txn); }

 private:
  static constexpr const char* kPendingState = "2pc-pending";
  static constexpr const char* kOpenState = "2pc-open";

  std::optional<Txn> current_;
  std::map<int64_t, Txn> pending_;  // pre-committed, by checkpoint id
  ListState<std::pair<int64_t, Txn>>* pending_state_ = nullptr;
  ListState<Txn>* open_state_ = nullptr;
};

}  // namespace brook
