// Sinks: the ends of a job. A sink function is a lambda or object called with each record
// (`void(const T&)`), or an object with `writeBatch(const RecordBatch<T>&)` for a whole batch;
// either may be rich (open/close, see user_function.h) and may have `finish()`, called at the
// end of input. Built in: PrintSink, CollectSink (in-process results), FileSink.
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "brook/operators/user_function.h"
#include "brook/runtime/stream_operator.h"

namespace brook {

template <typename T, typename SinkFn>
class SinkOperator final : public OneInputOperator<T> {
 public:
  explicit SinkOperator(SinkFn sink) : sink_(std::move(sink)) {}

  void Open(RuntimeContext& context) override {
    OneInputOperator<T>::Open(context);
    OpenFunction(sink_, context);
  }

  void ProcessBatch(RecordBatch<T>& batch) override {
    if constexpr (requires { sink_.writeBatch(std::as_const(batch)); }) {
      sink_.writeBatch(std::as_const(batch));
    } else {
      for (const auto& r : batch.records) sink_(r.value);
    }
  }

  void Finish() override {
    if constexpr (requires { sink_.finish(); }) sink_.finish();
  }
  void Close() override { CloseFunction(sink_); }

 private:
  SinkFn sink_;
};

// Writes each record as a line to standard output, prefixed by the subtask number when the sink
// runs in parallel ("2> ..."), as Flink's print() does. Lines of one batch are written at once.
template <typename T>
class PrintSink {
 public:
  explicit PrintSink(std::string prefix = "", FILE* stream = stdout)
      : prefix_(std::move(prefix)), stream_(stream) {}

  void open(const RuntimeContext& context) {
    if (!prefix_.empty()) prefix_ += ":";
    if (context.parallelism > 1) prefix_ += std::to_string(context.subtask_index + 1) + "> ";
    else if (!prefix_.empty()) prefix_ += " ";
  }

  void writeBatch(const RecordBatch<T>& batch) {
    text_.clear();
    for (const auto& r : batch.records) {
      text_ += prefix_;
      text_ += ToText(r.value);
      text_ += '\n';
    }
    std::fwrite(text_.data(), 1, text_.size(), stream_);
  }

 private:
  std::string prefix_;
  FILE* stream_;
  std::string text_;
};

// Where CollectSink puts the records of every subtask; read after the job ends.
template <typename T>
class CollectedRecords {
 public:
  void Append(const RecordBatch<T>& batch) {
    std::lock_guard lock(mutex_);
    for (const auto& r : batch.records) values_.push_back(r.value);
  }
  std::vector<T> values() const {
    std::lock_guard lock(mutex_);
    return values_;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return values_.size();
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    values_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> values_;  // guarded by mutex_
};

// Collects records into memory shared with the caller (tests, examples on a MiniCluster).
template <typename T>
class CollectSink {
 public:
  // Shared with the caller, who reads the records; every subtask's copy appends to it.
  explicit CollectSink(std::shared_ptr<CollectedRecords<T>> target) : target_(std::move(target)) {}
  void writeBatch(const RecordBatch<T>& batch) { target_->Append(batch); }

 private:
  std::shared_ptr<CollectedRecords<T>> target_;
};

// Writes records as lines to `directory/part-<subtask>`, one file per subtask.
template <typename T>
class FileSink {
 public:
  explicit FileSink(std::string directory) : directory_(std::move(directory)) {}
  FileSink(const FileSink& other) : directory_(other.directory_) {}

  void open(const RuntimeContext& context) {
    path_ = directory_ + "/part-" + std::to_string(context.subtask_index);
    file_.open(path_, std::ios::out | std::ios::trunc);
    if (!file_) throw std::runtime_error("file sink: cannot write " + path_);
  }
  void writeBatch(const RecordBatch<T>& batch) {
    for (const auto& r : batch.records) file_ << ToText(r.value) << '\n';
  }
  void finish() {
    file_.flush();
    if (!file_) throw std::runtime_error("file sink: write failed for " + path_);
  }
  void close() { file_.close(); }

 private:
  std::string directory_;
  std::string path_;
  std::ofstream file_;
};

}  // namespace brook
