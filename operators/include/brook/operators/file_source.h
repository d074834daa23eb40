// Reads text files line by line (without the line terminator). The path is a file or a
// directory of files (read in name order); subtask k of p reads the files j with j % p == k.
// A missing path fails the job when the source opens.
// Checkpoints keep every file's next byte offset (finished files marked as such) in the union
// list state "file-offsets", so a restored subtask, at any parallelism, resumes each file it now
// reads exactly after the last line emitted before the checkpoint.
#pragma once

#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "brook/runtime/stream_operator.h"

namespace brook {

class FileSource final : public SourceOperatorBase, WithOutput<std::string> {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {}

  void Open(RuntimeContext& context) override;
  SourceStatus EmitNext() override;
  void SnapshotState(SnapshotContext& context) override;
  void InitializeState(InitializationContext& context) override;
  void Close() override { stream_.close(); }

  // Position to resume from: the file being read and the byte offset of its next line.
  size_t current_file() const { return file_index_; }
  uint64_t current_offset() const { return offset_; }

 private:
  bool OpenNextFile();
  // Moves file_index_ past files finished before a restore and sets offset_ for the next one.
  void SkipToUnfinishedFile();

  static constexpr uint64_t kFinished = std::numeric_limits<uint64_t>::max();

  std::string path_;
  std::vector<std::string> files_;  // this subtask's files
  size_t file_index_ = 0;
  uint64_t offset_ = 0;
  std::ifstream stream_;
  bool stream_open_ = false;
  RecordBatch<std::string> batch_;
  std::map<std::string, uint64_t> restored_offsets_;  // path -> next offset (or kFinished)
};

}  // namespace brook
