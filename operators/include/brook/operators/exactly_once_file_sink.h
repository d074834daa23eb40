// ExactlyOnceFileSink<T>: writes records as text lines (ToText) into part files of a directory,
// exactly once across failures, on TwoPhaseCommitSink:
//
//   transaction  = one part file, written as the hidden temporary ".part-<subtask>-<run>-<n>.inprogress"
//   PreCommit    = flush and fsync the temporary (at the checkpoint barrier)
//   Commit       = rename it atomically to "part-<subtask>-<run>-<n>" (once the checkpoint completed);
//                  a part that received no records is removed instead
//   Abort        = remove the temporary
//
// Readers see only committed part files (names without a leading dot). <run> is random per
// operator instance, so a restarted attempt never reuses a name of a failed one. Commit is
// idempotent: a temporary already renamed is recognized by its final name existing. A pending
// transaction whose files are both gone is data loss, reported as a failure.
//
// Threading: the task thread. Errors: I/O failures throw std::runtime_error naming the file
// (failing the task, which then recovers from the last checkpoint).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>

#include "brook/operators/two_phase_commit_sink.h"
#include "brook/operators/user_function.h"

namespace brook {

// A part file in progress: where it is written, where it goes on commit, and whether it is
// empty (known from PreCommit on). Its Serde is that of a tuple.
struct FilePartTransaction {
  std::string temp_path;
  std::string final_path;
  bool empty = true;
  bool operator==(const FilePartTransaction&) const = default;
};

template <>
struct Serde<FilePartTransaction> {
  static void Write(BufferWriter& w, const FilePartTransaction& t) {
    Serde<std::tuple<std::string, std::string, bool>>::Write(
        w, std::tuple<std::string, std::string, bool>(t.temp_path, t.final_path, t.empty));
  }
  static void Read(BufferReader& r, FilePartTransaction& t) {
    std::tuple<std::string, std::string, bool> v;
    Serde<std::tuple<std::string, std::string, bool>>::Read(r, v);
    t = FilePartTransaction{std::move(std::get<0>(v)), std::move(std::get<1>(v)), std::get<2>(v)};
  }
};

template <typename T>
class ExactlyOnceFileSink final : public TwoPhaseCommitSink<T, FilePartTransaction> {
 public:
  explicit ExactlyOnceFileSink(std::string directory) : directory_(std::move(directory)) {}

  void Open(RuntimeContext& context) override {
    TwoPhaseCommitSink<T, FilePartTransaction>::Open(context);
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    if (ec) throw std::runtime_error("exactly-once file sink: cannot create " + directory_ + ": " + ec.message());
    std::random_device random;
    run_ = std::to_string((uint64_t(random()) << 32) ^ random());
    subtask_ = context.subtask_index;
  }

  void Close() override {
    TwoPhaseCommitSink<T, FilePartTransaction>::Close();
    CloseFile();
  }

 protected:
  FilePartTransaction BeginTransaction() override {
    const std::string name = "part-" + std::to_string(subtask_) + "-" + run_ + "-" + std::to_string(next_part_++);
    FilePartTransaction txn{directory_ + "/." + name + ".inprogress", directory_ + "/" + name, true};
    CloseFile();
    file_ = std::fopen(txn.temp_path.c_str(), "wb");
    if (!file_) Fail("cannot create", txn.temp_path);
    open_path_ = txn.temp_path;
    return txn;
  }

  void Write(FilePartTransaction& txn, const RecordBatch<T>& batch) override {
    text_.clear();
    for (const auto& r : batch.records) {
      text_ += ToText(r.value);
      text_ += '\n';
    }
    if (text_.empty()) return;
    if (std::fwrite(text_.data(), 1, text_.size(), file_) != text_.size()) Fail("cannot write", txn.temp_path);
    txn.empty = false;
  }

  void PreCommit(FilePartTransaction& txn) override {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) Fail("cannot sync", txn.temp_path);
    CloseFile();
  }

  void Commit(const FilePartTransaction& txn) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(txn.temp_path, ec)) {
      if (txn.empty || fs::exists(txn.final_path, ec)) return;  // committed before
      throw std::runtime_error("exactly-once file sink: pre-committed part " + txn.temp_path +
                               " is gone: its records are lost");
    }
    if (txn.empty) {
      fs::remove(txn.temp_path, ec);
      return;
    }
    if (std::rename(txn.temp_path.c_str(), txn.final_path.c_str()) != 0) Fail("cannot commit", txn.temp_path);
  }

  void Abort(const FilePartTransaction& txn) override {
    if (file_ && open_path_ == txn.temp_path) CloseFile();
    std::error_code ec;
    std::filesystem::remove(txn.temp_path, ec);
  }

 private:
  void CloseFile() {
    if (file_) std::fclose(file_);
    file_ = nullptr;
  }
  [[noreturn]] static void Fail(const char* what, const std::string& path) {
    throw std::runtime_error(std::string("exactly-once file sink: ") + what + " " + path + ": " +
                             std::strerror(errno));
  }

  const std::string directory_;
  std::string run_;
  int subtask_ = 0;
  uint64_t next_part_ = 0;
  std::FILE* file_ = nullptr;  // the current transaction's temporary, until PreCommit
  std::string open_path_;
  std::string text_;
};

}  // namespace brook
